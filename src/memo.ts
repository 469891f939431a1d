/**
 * The promises of slow lookups, remembered for `ttlMs` per key, so a hot path asks SQL at most once
 * per key and period. At most `max` keys are held (past it the memo starts over: it is only a memo);
 * a lookup that fails is forgotten, so the next call tries again.
 */
export function createTtlMemo<V>(ttlMs: number, max = 10_000) {
  const entries = new Map<string, { at: number; value: Promise<V> }>();
  return {
    get(key: string, load: () => Promise<V>): Promise<V> {
      const now = Date.now();
      const hit = entries.get(key);
      if (hit && now - hit.at < ttlMs) return hit.value;
      if (entries.size >= max) entries.clear();
      const value = load();
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      entries.set(key, { at: now, value });
      return value;
    },
    delete(key: string): void {
      entries.delete(key);
    },
  };
}
