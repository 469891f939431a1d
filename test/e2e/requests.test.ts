import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// GET /admin/v1/requests/:id: a request's usage row, with its prompt and answer (PII masked) for a
// tenant whose capture is on, and without them for one whose capture is off.

describe('request lookup and capture', () => {
  let gw: TestGateway;
  let first: TestGateway;
  let up: FakeOpenAi;
  let captured: Awaited<ReturnType<TestGateway['tenant']>>;
  let plain: Awaited<ReturnType<TestGateway['tenant']>>;

  beforeAll(async () => {
    up = await startFakeOpenAi(() => ({ kind: 'text', text: 'Sure, I will call +44 20 7946 0958.' }));
    first = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url }]) });
    captured = await first.tenant('captured');
    plain = await first.tenant('plain');
    // A second gateway on the same database, capturing one tenant (capture is configuration).
    gw = await startGateway({ schema: first.schema, keyPrefix: first.keyPrefix, config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), observability: { capture: { tenants: [captured.id] } } } });
  });
  afterAll(async () => {
    await gw?.close();
    await first?.close();
    await up?.close();
  });

  const ask = (key: string) => gw.call('POST', '/v1/chat/completions', { key, body: { model: 'm', messages: [{ role: 'user', content: 'Email ada@example.org the plan.' }] } });

  it('returns the usage row and the masked prompt and answer of a captured tenant', async () => {
    const res = await ask(captured.key);
    const id = res.headers.get('x-request-id') as string;
    let found = await gw.admin('GET', `/admin/v1/requests/${id}`);
    for (let i = 0; i < 50 && found.body.capture === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      found = await gw.admin('GET', `/admin/v1/requests/${id}`);
    }
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ object: 'request', request_id: id, tenant_id: captured.id, alias: 'm', status: 200, prompt_tokens: 10, completion_tokens: 5 });
    expect(found.body.capture).toEqual({ messages: [{ role: 'user', content: 'Email [EMAIL] the plan.' }], answer: 'Sure, I will call [PHONE].' });
  });

  it('has no capture for a tenant that did not turn it on, and 404 for an unknown id', async () => {
    const res = await ask(plain.key);
    const id = res.headers.get('x-request-id') as string;
    const found = await gw.admin('GET', `/admin/v1/requests/${id}?tenant_id=${plain.id}`);
    expect(found.body).toMatchObject({ request_id: id, tenant_id: plain.id, capture: null });
    expect((await gw.admin('GET', `/admin/v1/requests/${id}?tenant_id=${captured.id}`)).status).toBe(404);
    const missing = await gw.admin('GET', '/admin/v1/requests/no-such-request');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('request_not_found');
    const { rows } = await gw.gateway.deps.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM request_captures WHERE messages::text LIKE '%ada@example.org%'");
    expect(rows[0]?.n).toBe(0);
  });
});
