import type { Embedder, EmbedOptions } from './port.js';

/** A small LRU map: a Map keeps insertion order, so re-inserting on read makes the first key the least recent. */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();
  hits = 0;
  misses = 0;

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }

  clear(): void {
    this.#map.clear();
  }
}

/** Recent queries repeat (retries, the same question asked twice, cache look-ups); 2 KB a vector at 512 dims → ~2 MB. */
export const DEFAULT_QUERY_CACHE_ENTRIES = 1000;

/**
 * Caches the vectors of `kind: 'query'` texts, keyed by model and text; documents are embedded once
 * when stored, so caching them would only evict queries. Callers get copies, so mutating a returned
 * vector cannot poison the cache.
 */
export function createQueryCachingEmbedder(inner: Embedder, opts: { maxEntries?: number } = {}): Embedder & { cache: LruCache<string, Float32Array> } {
  const cache = new LruCache<string, Float32Array>(opts.maxEntries ?? DEFAULT_QUERY_CACHE_ENTRIES);
  const key = (text: string) => `${inner.model}\u0000${text}`;

  return {
    model: inner.model,
    dimensions: inner.dimensions,
    cache,
    async embed(texts: readonly string[], o?: EmbedOptions): Promise<Float32Array[]> {
      if (o?.kind !== 'query') return inner.embed(texts, o);
      const out: (Float32Array | undefined)[] = texts.map((t) => cache.get(key(t))?.slice());
      // Each distinct missing text is embedded once, even when it repeats within the call.
      const missing = [...new Set(texts.filter((_, i) => out[i] === undefined))];
      if (missing.length > 0) {
        const vectors = await inner.embed(missing, o);
        const byText = new Map<string, Float32Array>();
        missing.forEach((t, i) => {
          const v = vectors[i] as Float32Array;
          byText.set(t, v);
          cache.set(key(t), v.slice());
        });
        texts.forEach((t, i) => {
          if (out[i] === undefined) out[i] = (byText.get(t) as Float32Array).slice();
        });
      }
      return out as Float32Array[];
    },
    close: () => inner.close(),
  };
}
