import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Key scopes (routes and model aliases), rotation with a grace period, and revocations and limit
// changes reaching a second gateway on the same database and Redis before its key cache expires.

describe('key scopes, rotation and revocation', () => {
  let a: TestGateway;
  let b: TestGateway;
  let up: FakeOpenAi;

  beforeAll(async () => {
    up = await startFakeOpenAi();
    const base = upstreamConfig([{ name: 'up', baseUrl: up.url }]);
    const config = { ...base, models: { ...base.models, other: base.models.m }, auth: { keyCacheTtlMs: 60_000 } };
    a = await startGateway({ config });
    // A second gateway on the same schema and Redis key prefix.
    b = await startGateway({ config, schema: a.schema, keyPrefix: a.keyPrefix });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await up?.close();
  });

  const chat = (gw: TestGateway, key: string, model = 'm') => gw.call('POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'Hi' }] } });
  const until = async (check: () => Promise<boolean>, ms = 3000) => {
    const end = Date.now() + ms;
    while (!(await check()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return check();
  };

  it('limits a key to its routes and model aliases', async () => {
    const t = await a.tenant();
    const k = await a.admin('POST', '/admin/v1/keys', { tenant_id: t.id, scopes: ['route:chat', 'route:models', 'model:m'] });
    expect(k.status).toBe(201);
    const key = k.body.key as string;
    expect((await chat(a, key)).status).toBe(200);
    const otherModel = await chat(a, key, 'other');
    expect(otherModel.status).toBe(403);
    expect(otherModel.body.error.code).toBe('model_not_allowed');
    const models = await a.call('GET', '/v1/models', { key });
    expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(['m']);
    expect((await a.call('GET', '/v1/models/other', { key })).status).toBe(404);
    for (const [method, path] of [
      ['GET', '/v1/usage'],
      ['GET', '/v1/memories?user=u'],
      ['POST', '/v1/context'],
      ['GET', '/v1/collections'],
      ['GET', '/v1/prompts'],
      ['GET', '/v1/sessions/s/messages'],
    ] as const) {
      const res = await a.call(method, path, { key, body: method === 'POST' ? { model: 'm', messages: [{ role: 'user', content: 'x' }] } : undefined });
      expect(res.status, path).toBe(403);
      expect(res.body.error.code, path).toBe('scope_not_allowed');
    }
    // A key limited to the prompt API cannot call chat completions directly.
    const promptsOnly = (await a.admin('POST', '/admin/v1/keys', { tenant_id: t.id, scopes: ['route:prompts'] })).body.key as string;
    expect((await chat(a, promptsOnly)).status).toBe(403);
    expect((await a.call('GET', '/v1/prompts', { key: promptsOnly })).status).toBe(200);
    // The tenant's unscoped key can do all of it.
    expect((await chat(a, t.key, 'other')).status).toBe(200);
  });

  it('refuses scopes it does not know', async () => {
    const t = await a.tenant();
    const res = await a.admin('POST', '/admin/v1/keys', { tenant_id: t.id, scopes: ['route:everything'] });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('scopes[0]');
  });

  it('rotates a key: both secrets work during the grace period, the old one not after it', async () => {
    const t = await a.tenant();
    const old = (await a.admin('POST', '/admin/v1/keys', { tenant_id: t.id, name: 'ci', scopes: ['route:chat'], limits: { rpm: 100 } })).body;
    expect((await chat(a, old.key)).status).toBe(200);
    const rotated = await a.admin('POST', `/admin/v1/keys/${old.id}/rotate`, { grace_seconds: 1 });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ name: 'ci', scopes: ['route:chat'], limits: { rpm: 100 }, rotated_from: { id: old.id } });
    expect(rotated.body.key).not.toBe(old.key);
    expect((await chat(a, rotated.body.key)).status).toBe(200);
    expect((await chat(a, old.key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    const expired = await chat(a, old.key);
    expect(expired.status).toBe(401);
    expect((await chat(a, rotated.body.key)).status).toBe(200);
    expect((await a.admin('POST', `/admin/v1/keys/${old.id}/rotate`, {})).status).toBe(404);
  });

  it('makes a revocation and a limit change take effect on the other gateway before its key cache expires', async () => {
    const t = await a.tenant();
    const k = (await a.admin('POST', '/admin/v1/keys', { tenant_id: t.id })).body;
    // Both gateways have the key cached (for a minute in this test).
    expect((await chat(a, k.key)).status).toBe(200);
    expect((await chat(b, k.key)).status).toBe(200);
    expect((await a.admin('PATCH', `/admin/v1/keys/${k.id}`, { limits: { rpm: 1 } })).status).toBe(200);
    expect(await until(async () => (await chat(b, k.key)).status === 429)).toBe(true);
    expect((await a.admin('DELETE', `/admin/v1/keys/${k.id}`)).status).toBe(200);
    expect(await until(async () => (await chat(b, k.key)).status === 401)).toBe(true);
    const refused = await chat(b, k.key);
    expect(refused.body.error.code).toBe('invalid_api_key');
  });
});
