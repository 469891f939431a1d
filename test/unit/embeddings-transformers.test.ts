import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEmbedder } from '../../src/embeddings/factory.js';
import { dot, type Embedder } from '../../src/embeddings/port.js';
import { createTransformersEmbedder } from '../../src/embeddings/transformers/adapter.js';
import { type TinyModel, writeTinyModel } from '../helpers/tiny-model.js';

// Records the worker threads the adapter starts (behaviour unchanged), so a test can kill one as a crash would.
const started = vi.hoisted(() => [] as Worker[]);
vi.mock('../../src/jobs/threads.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/jobs/threads.js')>();
  return {
    ...real,
    startScriptWorker: (...args: Parameters<typeof real.startScriptWorker>) => {
      const w = real.startScriptWorker(...args);
      started.push(w);
      return w;
    },
  };
});

// The real transformers.js + onnxruntime-node code path, on a 2 KB model the test writes: nothing is downloaded.
describe('transformers.js embedder (tiny local BERT-like model)', () => {
  let tiny: TinyModel;
  let e: Embedder;

  beforeAll(async () => {
    tiny = await writeTinyModel();
    e = await createTransformersEmbedder({ model: tiny.name, modelDir: tiny.dir, threads: 1 });
  });
  afterAll(async () => {
    await e?.close();
    if (tiny) await rm(tiny.dir, { recursive: true, force: true });
  });

  it('learns the dimension from the model and names the model it serves', () => {
    expect(e.dimensions).toBe(tiny.hidden);
    expect(e.model).toBe(tiny.name);
  });

  it('returns one unit-length vector per text', async () => {
    const vs = await e.embed(['the cat sat on the mat', 'hello world', 'I like coffee!']);
    expect(vs).toHaveLength(3);
    for (const v of vs) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(tiny.hidden);
      expect(dot(v, v)).toBeCloseTo(1, 5);
    }
  });

  it('gives identical texts identical vectors and different texts different ones', async () => {
    const [a, b, c] = await e.embed(['the dog ran in the park', 'the dog ran in the park', 'what did melanie paint last week?']);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(dot(a!, c!)).toBeLessThan(0.999);
  });

  it('mean-pools over real tokens only: a batch with padding equals the texts embedded one by one', async () => {
    const texts = ['tea', 'the cat sat on the mat in the park', 'hello'];
    const batch = await e.embed(texts);
    const singles = await Promise.all(texts.map((t) => e.embed([t]).then((r) => r[0]!)));
    batch.forEach((v, i) => {
      expect(dot(v, singles[i]!)).toBeCloseTo(1, 5);
      for (const [j, x] of Array.from(v).entries()) expect(x).toBeCloseTo(singles[i]![j]!, 5);
    });
  });

  it('maps unknown words to [UNK] instead of failing, and an empty list to an empty list', async () => {
    const [v] = await e.embed(['zzzz qqqq']);
    expect(dot(v!, v!)).toBeCloseTo(1, 5);
    expect(await e.embed([])).toEqual([]);
  });

  it('also loads a model given as a directory path, with no modelDir', async () => {
    const byPath = await createTransformersEmbedder({ model: join(tiny.dir, tiny.name) });
    try {
      const [a] = await byPath.embed(['hello world']);
      const [b] = await e.embed(['hello world']);
      expect(Array.from(a!)).toEqual(Array.from(b!));
    } finally {
      await byPath.close();
    }
  });

  it('through createEmbedder (cached, micro-batched): concurrent calls get the same vectors as direct ones', async () => {
    const f = await createEmbedder({ kind: 'transformers', model: tiny.name, modelDir: tiny.dir, threads: 1 });
    try {
      expect([f.model, f.dimensions]).toEqual([tiny.name, tiny.hidden]);
      const texts = ['tea', 'i like coffee', 'the dog ran'];
      const together = await Promise.all(texts.map((t, i) => f.embed([t], { kind: i === 0 ? 'query' : 'document' })));
      const direct = await e.embed(texts);
      together.forEach(([v], i) => {
        expect(dot(v!, direct[i]!)).toBeCloseTo(1, 5);
      });
    } finally {
      await f.close();
    }
  });

  it('runs the model on a worker thread: the calling thread never even loads onnxruntime-node', async () => {
    // onnxruntime's session.run is one synchronous native call (its backend only defers it with setImmediate),
    // so whichever thread runs it has its event loop frozen for the whole batch: it must not be this one.
    // onnxruntime-node is CommonJS, so had this thread imported it, it would be in this thread's require cache.
    const vs = await e.embed(Array.from({ length: 64 }, (_, i) => `text ${i} ${'the cat sat on the mat in the park '.repeat(40)}`));
    expect(vs).toHaveLength(64);
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.filter((f) => f.includes('onnxruntime'))).toEqual([]);
  });

  it('a worker thread that dies rejects the embeds it held, and the next embed starts a new one', async () => {
    const f = await createTransformersEmbedder({ model: tiny.name, modelDir: tiny.dir, threads: 1 });
    try {
      const [before] = await f.embed(['hello world']);
      const first = started.at(-1)!;
      const pending = f.embed(Array.from({ length: 500 }, () => 'the dog ran in the park '.repeat(20)));
      void first.terminate();
      await expect(pending).rejects.toThrow(`The transformers.js worker thread for "${tiny.name}" stopped (exit code 1); the next embed starts a new one.`);
      const [after] = await f.embed(['hello world']);
      expect(started.at(-1)).not.toBe(first);
      expect(Array.from(after!)).toEqual(Array.from(before!));
    } finally {
      await f.close();
    }
    await expect(f.embed(['tea'])).rejects.toThrow(/closed/);
  });

  it('fails clearly when the model is not in the local directory, naming the model and the folder (no download is attempted)', async () => {
    const missing = await createTransformersEmbedder({ model: 'no-such-model', modelDir: tiny.dir }).catch((err: Error) => err);
    expect(missing).toBeInstanceOf(Error);
    expect((missing as Error).message).toContain(`"no-such-model" from ${tiny.dir}/no-such-model (EMBEDDINGS_MODEL_DIR`);
    expect((missing as Error).message).toMatch(/not found locally/);
    const noRoot = join(tiny.dir, 'no-such-dir');
    await expect(createTransformersEmbedder({ model: tiny.name, modelDir: noRoot })).rejects.toThrow(
      `Could not load the embedding model "${tiny.name}" from ${noRoot}/${tiny.name} (EMBEDDINGS_MODEL_DIR`,
    );
  });
});
