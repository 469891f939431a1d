import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentSettled, startGateway, type TestGateway } from '../helpers/gateway.js';
import { type TinyModel, writeTinyModel } from '../helpers/tiny-model.js';

// Search through HTTP with a reranker configured: a tiny cross-encoder the test writes, whose score for a
// (query, chunk) pair is how often "tea" occurs in it, so the reranked order is known in advance.
const CATS = 'The cat sat on the mat. The cat ran in the park. A cat, a cat and a cat.';
const TEA = 'I like tea. What did Melanie paint last week? Coffee, tea and a walk in the park.';

describe('search with a reranker', () => {
  let tiny: TinyModel;
  let broken: TinyModel;
  let gw: TestGateway;
  let key: string;
  let col: string;

  const setUp = async (g: TestGateway) => {
    const t = await g.tenant('rerank');
    const c = (await g.call('POST', '/v1/collections', { key: t.key, body: { name: 'Animals and drinks' } })).body.id as string;
    for (const [title, text] of [
      ['cats', CATS],
      ['tea', TEA],
    ]) {
      const up = await g.call('POST', `/v1/collections/${c}/documents`, { key: t.key, body: { title, text } });
      expect((await documentSettled(g, t.key, up.body.data[0].id)).status).toBe('ready');
    }
    return { key: t.key, col: c };
  };

  beforeAll(async () => {
    tiny = await writeTinyModel({ crossEncoderWord: 'tea' });
    broken = await writeTinyModel({ dir: tiny.dir, name: 'tiny-broken', crossEncoderWord: 'tea', brokenCrossEncoder: true });
    gw = await startGateway({ config: { knowledge: { search: { rerank: { model: tiny.name, modelDir: tiny.dir, candidates: 10 } } } } });
    ({ key, col } = await setUp(gw));
  });
  afterAll(async () => {
    await gw?.close();
    await rm(tiny.dir, { recursive: true, force: true });
  });

  it('orders the hits by the reranking model, and keeps the fused order when asked not to rerank', async () => {
    const query = 'a cat, a cat and tea';
    const fused = await gw.call('POST', `/v1/collections/${col}/search`, { key, body: { query, top_k: 2, rerank: false } });
    expect(fused.status).toBe(200);
    // Full text and vectors both put the cat chunk first…
    expect(fused.body.data.map((h: { title: string }) => h.title)).toEqual(['cats', 'tea']);
    expect(fused.body.data[0]).not.toHaveProperty('rerank_score');

    const reranked = await gw.call('POST', `/v1/collections/${col}/search`, { key, body: { query, top_k: 2 } });
    expect(reranked.status).toBe(200);
    // …the reranker counts "tea": the query's one, plus the tea chunk's two.
    expect(reranked.body.data.map((h: { title: string; rerank_score: number }) => [h.title, h.rerank_score])).toEqual([
      ['tea', 3],
      ['cats', 1],
    ]);
    // The fused score is still reported.
    expect(reranked.body.data[1].score).toBe(fused.body.data[0].score);

    // top_k 1 takes the reranker's best among its candidates, not the fused best.
    const one = await gw.call('POST', `/v1/collections/${col}/search`, { key, body: { query, top_k: 1 } });
    expect(one.body.data.map((h: { title: string }) => h.title)).toEqual(['tea']);
  });

  it('answers in the fused order when the reranking model fails', async () => {
    const other = await startGateway({ config: { knowledge: { search: { rerank: { model: broken.name, modelDir: broken.dir } } } } });
    try {
      const s = await setUp(other);
      const res = await other.call('POST', `/v1/collections/${s.col}/search`, { key: s.key, body: { query: 'a cat, a cat and tea', top_k: 2 } });
      expect(res.status).toBe(200);
      expect(res.body.data.map((h: { title: string }) => h.title)).toEqual(['cats', 'tea']);
      expect(res.body.data[0]).not.toHaveProperty('rerank_score');
    } finally {
      await other.close();
    }
  });

  it('refuses a non-boolean rerank with a 400 naming it', async () => {
    const res = await gw.call('POST', `/v1/collections/${col}/search`, { key, body: { query: 'tea', rerank: 'yes' } });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('rerank');
  });
});
