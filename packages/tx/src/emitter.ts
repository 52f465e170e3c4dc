import { EventEmitter } from 'node:events';

/** An EventEmitter whose event names and payloads are checked against `Events`. */
export interface TypedEmitter<Events extends Record<string, unknown[]>> {
  on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  once<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
  off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this;
}

export function createEmitter<Events extends Record<string, unknown[]>>(): {
  emitter: EventEmitter;
  emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void;
} {
  const emitter = new EventEmitter();
  return {
    emitter,
    emit(event, ...args) {
      // A listener that throws must not break the protocol.
      try {
        emitter.emit(event, ...args);
      } catch {
        /* ignored */
      }
    },
  };
}
