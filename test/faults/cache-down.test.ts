import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// The cache's dependencies failing: every request still answers (from the upstream), the lookup is
// only slower or a miss, and the response says which part was missing.

const ask = (gw: TestGateway, key: string, text: string) => gw.call('POST', '/v1/chat/completions', { key, body: { model: 'm', messages: [{ role: 'user', content: text }] } });

describe('cache with its dependencies failing', () => {
  let up: FakeOpenAi;
  beforeAll(async () => {
    up = await startFakeOpenAi((_req, n) => ({ kind: 'text', text: `Answer ${n}` }));
  });
  afterAll(async () => {
    await up?.close();
  });

  it('serves hits from SQL when Redis is unreachable', async () => {
    const gw = await startGateway({ redis: 'redis://127.0.0.1:9', config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), cache: { enabled: true, semantic: false } } });
    try {
      const t = await gw.tenant();
      const first = await ask(gw, t.key, 'What is two plus two?');
      expect(first.status).toBe(200);
      expect(first.headers.get('x-cache')).toBe('miss');
      await gw.gateway.deps.cache.idle();
      const second = await ask(gw, t.key, 'What is two plus two?');
      expect(second.status).toBe(200);
      expect(second.headers.get('x-cache')).toBe('hit');
      expect(second.body.choices[0].message.content).toBe(first.body.choices[0].message.content);
    } finally {
      await gw.close();
    }
  });

  it('refills the Redis copy from SQL after Redis lost it', async () => {
    const gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), cache: { enabled: true, semantic: false } } });
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const t = await gw.tenant();
      await ask(gw, t.key, 'Capital of Peru?');
      await gw.gateway.deps.cache.idle();
      const keys = async () => redis.keys(`${gw.keyPrefix}cache:*`);
      expect(await keys()).toHaveLength(1);
      await redis.del(...(await keys()));
      const hit = await ask(gw, t.key, 'Capital of Peru?');
      expect(hit.headers.get('x-cache')).toBe('hit');
      // The copy is written back off the request path.
      const until = Date.now() + 5000;
      while ((await keys()).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(await keys()).toHaveLength(1);
    } finally {
      redis.disconnect();
      await gw.close();
    }
  });

  it('answers as a miss, saying so, when the vector store is unreachable', async () => {
    const gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: up.url }]),
        cache: { enabled: true },
        embeddings: { threads: 1 },
        vector: { collections: { cache: { kind: 'qdrant', url: 'http://127.0.0.1:9' } } },
      },
    });
    try {
      const t = await gw.tenant();
      const first = await ask(gw, t.key, 'How far is the Moon?');
      expect(first.status).toBe(200);
      expect(first.headers.get('x-cache')).toBe('miss');
      await gw.gateway.deps.cache.idle();
      // The entry was still written to SQL (its vector was not): the exact cache answers.
      const again = await ask(gw, t.key, 'How far is the Moon?');
      expect(again.status).toBe(200);
      expect(again.headers.get('x-cache')).toBe('hit');
      // A paraphrase needs the vector store: a miss that says why, answered by the upstream.
      const para = await ask(gw, t.key, 'How far away is the Moon?');
      expect(para.status).toBe(200);
      expect(para.headers.get('x-cache')).toBe('miss');
      expect(para.headers.get('x-cache-degraded')).toBe('vectors');
      expect(para.body.choices[0].message.content).toMatch(/^Answer \d+$/);
    } finally {
      await gw.close();
    }
  }, 30_000);

  it('answers from the upstream when the cache table cannot be read or written', async () => {
    const gw = await startGateway({ redis: false, config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), cache: { enabled: true, semantic: false } } });
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      const t = await gw.tenant();
      await db.query(`ALTER TABLE ${gw.schema}.cache_entries RENAME TO cache_entries_away`);
      const before = up.requests.length;
      const res = await ask(gw, t.key, 'Is the cache table there?');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('miss');
      expect(res.headers.get('x-cache-degraded')).toBe('sql');
      await gw.gateway.deps.cache.idle();
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/^gateway_cache_stores_total\{result="failed"\} 1$/m);
      await db.query(`ALTER TABLE ${gw.schema}.cache_entries_away RENAME TO cache_entries`);
      const again = await ask(gw, t.key, 'Is the cache table there?');
      expect(again.status).toBe(200);
      expect(again.headers.get('x-cache')).toBe('miss');
      expect(up.requests.length).toBe(before + 2);
    } finally {
      await db.end();
      await gw.close();
    }
  });
});
