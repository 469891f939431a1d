import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from '../../src/embeddings/factory.js';
import { dot, type Embedder } from '../../src/embeddings/port.js';
import { createTransformersEmbedder } from '../../src/embeddings/transformers/adapter.js';
import { type TinyModel, writeTinyModel } from '../helpers/tiny-model.js';

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

  it('fails clearly when the model is not in the local directory (no download is attempted)', async () => {
    await expect(createTransformersEmbedder({ model: 'no-such-model', modelDir: tiny.dir })).rejects.toThrow(
      /no-such-model.*EMBEDDINGS_MODEL_DIR.*not found locally/s,
    );
  });
});
