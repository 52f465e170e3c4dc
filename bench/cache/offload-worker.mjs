// Worker for the offload measurement: serialise + compress off the main thread.

import { serialize } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { brotliCompressSync, constants } from 'node:zlib';

parentPort.on('message', (value) => {
  const z = brotliCompressSync(serialize(value), { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } });
  const ab = z.buffer.slice(z.byteOffset, z.byteOffset + z.byteLength);
  parentPort.postMessage(ab, [ab]);
});
