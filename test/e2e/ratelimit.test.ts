import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, type Limit, WINDOW_MS } from '../../src/governance/ratelimit.js';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, deleteRedisKeys, dropSchema, uniqueName } from '../helpers/env.js';
import { ADMIN_KEY, startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Rate limits: requests and tokens per minute per key, tenant and model alias; the N+1-th request of a
// window refused with 429, Retry-After and OpenAI's x-ratelimit-* headers; the same with Redis and
// in-process; two gateway processes sharing one Redis admit exactly the limit between them.

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const silent = pino({ level: 'silent' });

/** Waits out the last seconds of a minute, so a burst falls in one window. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < 5000) await new Promise((r) => setTimeout(r, left + 50));
}

describe('sliding window (in-process)', () => {
  it('weighs the previous minute by how much of it the sliding minute still covers', async () => {
    let t = 10 * WINDOW_MS + 59_000;
    const limiter = createRateLimiter({ log: silent, now: () => t });
    const rpm: Limit[] = [{ scope: 'key:k', kind: 'requests', limit: 10, label: 'requests per minute of this API key' }];
    for (let i = 0; i < 10; i++) expect((await limiter.admit(rpm)).ok).toBe(true);
    const full = await limiter.admit(rpm);
    expect(full.ok).toBe(false);
    expect(full.denied?.resetMs).toBeGreaterThan(0);
    // One second into the next minute, 59/60 of the previous ten still count: no room.
    t = 11 * WINDOW_MS + 1000;
    expect((await limiter.admit(rpm)).ok).toBe(false);
    // Halfway (plus a little), under five of them count: five more fit, not six.
    t = 11 * WINDOW_MS + 31_000;
    for (let i = 0; i < 5; i++) expect((await limiter.admit(rpm)).ok).toBe(true);
    expect((await limiter.admit(rpm)).ok).toBe(false);

    const tpm: Limit[] = [{ scope: 'tenant:t', kind: 'tokens', limit: 100, label: 'tokens per minute of this tenant' }];
    t = 20 * WINDOW_MS;
    expect((await limiter.admit(tpm)).ok).toBe(true);
    limiter.charge(tpm, 150);
    const over = await limiter.admit(tpm);
    expect(over.ok).toBe(false);
    expect(over.denied?.limit.kind).toBe('tokens');
    await limiter.close();
  });
});

for (const redis of [true, false]) {
  describe(`rate limits through the API (${redis ? 'Redis' : 'in-process'})`, () => {
    let gw: TestGateway;
    let up: FakeOpenAi;
    beforeAll(async () => {
      up = await startFakeOpenAi();
      const base = upstreamConfig([{ name: 'up', baseUrl: up.url }]);
      gw = await startGateway({ redis, config: { ...base, models: { ...base.models, limited: { ...base.models.m, limits: { rpm: 2 } } } } });
    });
    afterAll(async () => {
      await gw?.close();
      await up?.close();
    });

    const ask = (key: string, model = 'm') => gw.call('POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'Hi' }] } });

    it('refuses the request after the key\'s limit with 429, Retry-After and x-ratelimit headers', async () => {
      await awayFromMinuteEdge();
      const t = await gw.tenant();
      const k = await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, limits: { rpm: 3 } });
      expect(k.body.limits).toEqual({ rpm: 3 });
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await ask(k.body.key);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
        remaining.push(res.headers.get('x-ratelimit-remaining-requests') as string);
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const before = up.requests.length;
      const refused = await ask(k.body.key);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('rate_limit_exceeded');
      expect(refused.body.error.message).toContain('3 requests per minute of this API key');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(refused.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s|m\d+s)$/);
      expect(up.requests.length).toBe(before);
      // The tenant's other keys are not limited by this key's limit.
      expect((await ask(t.key)).status).toBe(200);
    });

    it('counts tokens per tenant after each answer, and refuses once the minute\'s tokens are used up', async () => {
      await awayFromMinuteEdge();
      const t = await gw.tenant();
      const patched = await gw.admin('PATCH', `/admin/v1/tenants/${t.id}`, { limits: { tpm: 20 } });
      expect(patched.body.limits).toEqual({ tpm: 20 });
      // The fake upstream reports 10 + 5 tokens per answer.
      const first = await ask(t.key);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('20');
      expect((await ask(t.key)).status).toBe(200);
      // Tokens are counted once the response has ended (with Redis, shared within 100 ms); 30 of 20 are used now.
      let third = await ask(t.key);
      for (let i = 0; i < 40 && third.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 25));
        third = await ask(t.key);
      }
      expect(third.status).toBe(429);
      expect(third.body.error.message).toContain('20 tokens per minute of this tenant');
      expect(third.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      const bad = await gw.admin('PATCH', `/admin/v1/tenants/${t.id}`, { limits: { tpm: 0 } });
      expect(bad.status).toBe(400);
    });

    it('limits a model alias across tenants', async () => {
      await awayFromMinuteEdge();
      const a = await gw.tenant('a');
      const b = await gw.tenant('b');
      expect((await ask(a.key, 'limited')).status).toBe(200);
      expect((await ask(b.key, 'limited')).status).toBe(200);
      const refused = await ask(a.key, 'limited');
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toContain('requests per minute of model "limited"');
      expect((await ask(a.key, 'm')).status).toBe(200);
    });
  });
}

describe('two gateway processes sharing one Redis', () => {
  let up: FakeOpenAi;
  let dir: string;
  const schema = uniqueName('t');
  const keyPrefix = `${uniqueName('t')}:`;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    up = await startFakeOpenAi();
    dir = mkdtempSync(join(tmpdir(), 'rl-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(upstreamConfig([{ name: 'up', baseUrl: up.url }])));
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(schema);
    await deleteRedisKeys(keyPrefix);
  });

  /** A gateway process (src/main.ts through tsx) on the shared schema and Redis; resolves to its URL. */
  function startProcess(): Promise<string> {
    const child = spawn(process.execPath, ['--import', TSX, MAIN], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: schema,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: keyPrefix,
        ADMIN_API_KEY: ADMIN_KEY,
        CONFIG_FILE: join(dir, 'config.json'),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const port = out.match(/"port":(\d+).*context gateway listening/)?.[1];
        if (port) resolve(`http://127.0.0.1:${port}`);
      });
      child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    });
  }

  it('admits exactly the key\'s limit between them under concurrency', async () => {
    const urls = [await startProcess(), await startProcess()];
    const call = (url: string, path: string, key: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const tenant = (await (await call(urls[0] as string, '/admin/v1/tenants', ADMIN_KEY, { name: 'shared' })).json()) as { id: string };
    const key = (await (await call(urls[1] as string, '/admin/v1/keys', ADMIN_KEY, { tenant_id: tenant.id, limits: { rpm: 7 } })).json()) as { key: string };
    await awayFromMinuteEdge();
    const statuses = await Promise.all(
      Array.from({ length: 24 }, (_, i) => call(urls[i % 2] as string, '/v1/chat/completions', key.key, { model: 'm', messages: [{ role: 'user', content: `Hi ${i}` }] }).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 429)).toHaveLength(17);
  }, 60_000);
});
