/** Something text can be written to (a `process.stdout` or a test buffer). */
export interface CliStream {
  write(text: string): unknown;
  /** True when a person is watching (a terminal); progress lines and colours follow it. */
  isTTY?: boolean;
}

/** The world `run()` sees. Every member defaults to the real process. */
export interface CliIo {
  stdout?: CliStream;
  stderr?: CliStream;
  /** Environment for `${VAR}` expansion, `DATABASE_URL`, `NO_COLOR`. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Folder config discovery starts from and relative paths resolve against. Default `process.cwd()`. */
  cwd?: string;
}

export interface ResolvedIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function resolveIo(io: CliIo = {}): ResolvedIo {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
}
