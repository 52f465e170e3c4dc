/**
 * A bounded memo from text to a value: at most `maxEntries` entries and
 * `maxSize` total size (each entry's size given by the caller), with
 * second-chance ("clock") eviction: a hit only sets a flag, so a lookup is
 * one Map read and one write; when full, the oldest entries are evicted,
 * except those hit since they were last considered, which go to the back once.
 * No dependencies (core has none).
 */
export class BoundedMemo<V> {
  readonly #entries = new Map<string, { value: V; size: number; hit: boolean }>();
  readonly #maxEntries: number;
  readonly #maxSize: number;
  #size = 0;

  constructor(maxEntries: number, maxSize: number) {
    this.#maxEntries = Math.max(1, Math.floor(maxEntries));
    this.#maxSize = maxSize;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    e.hit = true;
    return e.value;
  }

  /** Stores `value` unless `size` alone exceeds the size bound. */
  set(key: string, value: V, size: number): void {
    if (size > this.#maxSize) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#size -= old.size;
    }
    while (this.#entries.size > 0 && (this.#entries.size >= this.#maxEntries || this.#size + size > this.#maxSize)) {
      const oldest = this.#entries.keys().next().value as string;
      const e = this.#entries.get(oldest)!;
      this.#entries.delete(oldest);
      if (e.hit) {
        e.hit = false;
        this.#entries.set(oldest, e); // second chance
      } else this.#size -= e.size;
    }
    this.#entries.set(key, { value, size, hit: false });
    this.#size += size;
  }
}
