import { describe, expect, it } from 'vitest';
import { createBatchingEmbedder } from '../../src/embeddings/batcher.js';
import { createQueryCachingEmbedder, LruCache } from '../../src/embeddings/lru.js';
import type { Embedder, EmbedOptions } from '../../src/embeddings/port.js';

/** A fake model: the vector of a text is [length, first char code], and every call is recorded. */
function fakeEmbedder(opts: { delayMs?: number; fail?: boolean } = {}) {
  const calls: { texts: string[]; kind: string | undefined }[] = [];
  const embedder: Embedder & { calls: typeof calls; closed: boolean } = {
    model: 'fake-2',
    dimensions: 2,
    calls,
    closed: false,
    async embed(texts: readonly string[], o?: EmbedOptions) {
      calls.push({ texts: [...texts], kind: o?.kind });
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.fail) throw new Error('model down');
      return texts.map((t) => Float32Array.of(t.length, t.charCodeAt(0) || 0));
    },
    async close() {
      embedder.closed = true;
    },
  };
  return embedder;
}

const vec = (t: string) => Array.from(Float32Array.of(t.length, t.charCodeAt(0) || 0));

describe('micro-batcher', () => {
  it('sends a call to a free model at once, alone', async () => {
    const inner = fakeEmbedder({ delayMs: 20 });
    const b = createBatchingEmbedder(inner, { maxBatch: 100 });
    const pending = b.embed(['a']);
    // Synchronously: no timer between the call and the model.
    expect(inner.calls).toEqual([{ texts: ['a'], kind: 'document' }]);
    expect((await pending).map((v) => Array.from(v))).toEqual([vec('a')]);
  });

  it('gathers the calls made while the model is busy into its next call, each caller getting its own slice', async () => {
    const inner = fakeEmbedder({ delayMs: 20 });
    const b = createBatchingEmbedder(inner, { maxBatch: 100 });
    const [r0, r1, r2, r3] = await Promise.all([b.embed(['z']), b.embed(['a']), b.embed(['bb', 'ccc']), b.embed(['dddd'])]);
    expect(inner.calls.map((c) => c.texts)).toEqual([['z'], ['a', 'bb', 'ccc', 'dddd']]);
    expect(r0!.map((v) => Array.from(v))).toEqual([vec('z')]);
    expect(r1!.map((v) => Array.from(v))).toEqual([vec('a')]);
    expect(r2!.map((v) => Array.from(v))).toEqual([vec('bb'), vec('ccc')]);
    expect(r3!.map((v) => Array.from(v))).toEqual([vec('dddd')]);
  });

  it('sends a gathered batch as soon as it reaches maxBatch, and starts another when a call would overflow it', async () => {
    const inner = fakeEmbedder({ delayMs: 20 });
    const b = createBatchingEmbedder(inner, { maxBatch: 3 });
    const all = Promise.all([b.embed(['busy']), b.embed(['a', 'b']), b.embed(['c']), b.embed(['d', 'e']), b.embed(['f', 'g'])]);
    // ['a','b','c'] reached maxBatch and went without waiting for the busy call; ['d','e'] overflowed into a new batch.
    expect(inner.calls.map((c) => c.texts)).toEqual([['busy'], ['a', 'b', 'c'], ['d', 'e']]);
    await all;
    expect(inner.calls.map((c) => c.texts)).toEqual([['busy'], ['a', 'b', 'c'], ['d', 'e'], ['f', 'g']]);
  });

  it('keeps queries and documents in separate batches', async () => {
    const inner = fakeEmbedder({ delayMs: 10 });
    const b = createBatchingEmbedder(inner);
    await Promise.all([b.embed(['first']), b.embed(['q1'], { kind: 'query' }), b.embed(['d1']), b.embed(['q2'], { kind: 'query' })]);
    expect(inner.calls).toHaveLength(3);
    expect(inner.calls.find((c) => c.kind === 'query')!.texts).toEqual(['q1', 'q2']);
    expect(inner.calls.filter((c) => c.kind === 'document').map((c) => c.texts)).toEqual([['first'], ['d1']]);
  });

  it('runs as many calls at once as its concurrency before gathering', async () => {
    const inner = fakeEmbedder({ delayMs: 10 });
    const b = createBatchingEmbedder(inner, { concurrency: 2 });
    await Promise.all([b.embed(['a']), b.embed(['b']), b.embed(['c']), b.embed(['d'])]);
    expect(inner.calls.map((c) => c.texts)).toEqual([['a'], ['b'], ['c', 'd']]);
  });

  it('calls made one after another each go alone; an empty call never reaches the model', async () => {
    const inner = fakeEmbedder();
    const b = createBatchingEmbedder(inner);
    await b.embed(['a']);
    await b.embed(['b']);
    expect(await b.embed([])).toEqual([]);
    expect(inner.calls.map((c) => c.texts)).toEqual([['a'], ['b']]);
  });

  it('rejects every caller of a failed batch, and serves the next calls', async () => {
    const inner = fakeEmbedder({ fail: true, delayMs: 5 });
    const b = createBatchingEmbedder(inner);
    const results = await Promise.allSettled([b.embed(['a']), b.embed(['b']), b.embed(['c'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(inner.calls.map((c) => c.texts)).toEqual([['a'], ['b', 'c']]);
    await expect(b.embed(['d'])).rejects.toThrow('model down');
    expect(inner.calls).toHaveLength(3);
  });

  it('close sends what is gathered and closes the model', async () => {
    const inner = fakeEmbedder({ delayMs: 20 });
    const b = createBatchingEmbedder(inner);
    const busy = b.embed(['busy']);
    const pending = b.embed(['a']);
    await b.close();
    expect((await pending).length).toBe(1);
    await busy;
    expect(inner.closed).toBe(true);
  });
});

describe('LRU', () => {
  it('evicts the least recently used entry, and a read counts as use', () => {
    const lru = new LruCache<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
    expect([lru.hits, lru.misses]).toEqual([3, 1]);
  });
});

describe('query cache', () => {
  it('embeds a repeated query once, and only the texts it has not seen', async () => {
    const inner = fakeEmbedder();
    const c = createQueryCachingEmbedder(inner, { maxEntries: 10 });
    const first = await c.embed(['when did we meet?'], { kind: 'query' });
    const second = await c.embed(['when did we meet?', 'where?', 'where?'], { kind: 'query' });
    expect(inner.calls.map((x) => x.texts)).toEqual([['when did we meet?'], ['where?']]);
    expect(Array.from(second[0]!)).toEqual(Array.from(first[0]!));
    expect(second.map((v) => Array.from(v))).toEqual([vec('when did we meet?'), vec('where?'), vec('where?')]);
  });

  it('does not cache documents', async () => {
    const inner = fakeEmbedder();
    const c = createQueryCachingEmbedder(inner);
    await c.embed(['a turn']);
    await c.embed(['a turn'], { kind: 'document' });
    expect(inner.calls).toHaveLength(2);
    expect(c.cache.size).toBe(0);
  });

  it('hands out copies, so a caller mutating its vector cannot poison the cache', async () => {
    const c = createQueryCachingEmbedder(fakeEmbedder());
    const [v] = await c.embed(['abc'], { kind: 'query' });
    v!.fill(0);
    const [again] = await c.embed(['abc'], { kind: 'query' });
    expect(Array.from(again!)).toEqual(vec('abc'));
  });

  it('keys on the model, so two models never share vectors', async () => {
    const a = fakeEmbedder();
    const b = { ...fakeEmbedder(), model: 'other' };
    const ca = createQueryCachingEmbedder(a);
    const cb = createQueryCachingEmbedder(b);
    await ca.embed(['x'], { kind: 'query' });
    expect(cb.cache.get(`other\u0000x`)).toBeUndefined();
    expect(ca.cache.get(`fake-2\u0000x`)).toBeDefined();
  });
});
