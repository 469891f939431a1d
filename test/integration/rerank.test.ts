import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformersReranker, type Reranker } from '../../src/knowledge/rerank.js';
import { type TinyModel, writeTinyModel } from '../helpers/tiny-model.js';

// A 1 KB cross-encoder the test writes: its score for a pair is how often "tea" occurs in it.
describe('transformers.js reranker (tiny cross-encoder on a worker thread)', () => {
  let tiny: TinyModel;
  let reranker: Reranker;

  beforeAll(async () => {
    tiny = await writeTinyModel({ crossEncoderWord: 'tea' });
    reranker = await createTransformersReranker({ model: tiny.name, modelDir: tiny.dir });
  });
  afterAll(async () => {
    await reranker?.close();
    await rm(tiny.dir, { recursive: true, force: true });
  });

  it('scores each (query, text) pair with the model', async () => {
    const scores = await reranker.rerank('i like tea', ['the cat sat on the mat', 'tea tea and coffee', 'i like tea']);
    // The query's one "tea" is in every pair; the texts add 0, 2 and 1.
    expect(scores).toEqual([1, 3, 2]);
    expect(await reranker.rerank('tea', [])).toEqual([]);
  });

  it('says which model could not be loaded, and where it looked', async () => {
    await expect(createTransformersReranker({ model: 'no-such-model', modelDir: tiny.dir })).rejects.toThrow(/reranking model "no-such-model".*RERANK_MODEL_DIR/);
  });

  it('refuses work once closed', async () => {
    const r = await createTransformersReranker({ model: tiny.name, modelDir: tiny.dir });
    await r.close();
    await expect(r.rerank('tea', ['tea'])).rejects.toThrow(/closed/);
  });
});
