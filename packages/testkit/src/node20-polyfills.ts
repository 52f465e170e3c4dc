/**
 * Vitest 5's reporter calls `Map.groupBy` when it prints failed tests, which
 * Node 20 lacks (it arrived in Node 21): without this, a failing test crashes
 * the reporter and its message is lost. The global setup runs in the main
 * vitest process, so installing the two standard functions here fixes that.
 */
type GroupBy = <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => unknown;

export function installGroupByPolyfills(): void {
  const M = Map as unknown as { groupBy?: GroupBy };
  if (typeof M.groupBy !== 'function') {
    M.groupBy = <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => {
      const out = new Map<K, T[]>();
      let i = 0;
      for (const item of items) {
        const k = key(item, i++);
        const list = out.get(k);
        if (list) list.push(item);
        else out.set(k, [item]);
      }
      return out;
    };
  }
  const O = Object as unknown as { groupBy?: GroupBy };
  if (typeof O.groupBy !== 'function') {
    O.groupBy = <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => {
      const out: Record<PropertyKey, T[]> = Object.create(null);
      let i = 0;
      for (const item of items) {
        const k = key(item, i++) as PropertyKey;
        (out[k] ??= []).push(item);
      }
      return out;
    };
  }
}
