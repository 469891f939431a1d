import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Every failure answers in the OpenAI error envelope with a stable code and a message that says what to fix.
describe('bad input gets a clear 4xx', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    up = await startFakeOpenAi();
    gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), server: { maxBodyBytes: 2048 } }, redis: false });
    key = (await gw.tenant()).key;
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  const chat = (body: unknown, headers: Record<string, string> = {}) => gw.call('POST', '/v1/chat/completions', { key, body, headers });
  const good = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

  it.each([
    ['malformed JSON', '{"model": "m", "messages": [', 400, 'invalid_json', null],
    ['a missing model', { messages: good.messages }, 400, 'invalid_request', 'model'],
    ['a wrong type', { ...good, temperature: 'hot' }, 400, 'invalid_request', 'temperature'],
    ['an out-of-range value', { ...good, temperature: 3 }, 400, 'invalid_request', 'temperature'],
    ['no messages', { model: 'm', messages: [] }, 400, 'invalid_request', 'messages'],
    ['an unknown role', { model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 400, 'invalid_request', 'messages[0].role'],
    ['a bad session id', { ...good, session_id: 'has space' }, 400, 'invalid_request', 'session_id'],
    ['n > 1 with a session', { ...good, n: 2, session_id: 's' }, 400, 'invalid_request', 'n'],
    ['an unknown model', { ...good, model: 'gpt-99' }, 404, 'model_not_found', 'model'],
    ['an oversized body', { ...good, messages: [{ role: 'user', content: 'x'.repeat(5000) }] }, 413, 'request_too_large', null],
  ])('%s', async (_label, body, status, code, param) => {
    const res = await chat(body);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code, param });
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.error.message.length).toBeGreaterThan(10);
    expect(up.requests).toHaveLength(0);
  });

  it('a body that is not JSON → 415', async () => {
    const res = await gw.call('POST', '/v1/chat/completions', { key, body: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('a bad X-Session-Id header → 400 naming it', async () => {
    const res = await chat(good, { 'x-session-id': 'x'.repeat(300) });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('X-Session-Id');
  });

  it('missing, malformed and unknown keys → 401; the admin key on a tenant route → 403', async () => {
    const none = await gw.call('POST', '/v1/chat/completions', { body: good });
    expect(none.status).toBe(401);
    expect(none.body.error).toMatchObject({ code: 'missing_api_key', type: 'authentication_error' });
    const basic = await gw.call('POST', '/v1/chat/completions', { body: good, headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
    const wrong = await gw.call('POST', '/v1/chat/completions', { key: 'cgw_not-a-real-key', body: good });
    expect(wrong.body.error.code).toBe('invalid_api_key');
    const admin = await gw.admin('POST', '/v1/chat/completions', good);
    expect(admin.status).toBe(403);
    const tenantOnAdmin = await gw.call('GET', '/admin/v1/tenants', { key });
    expect(tenantOnAdmin.status).toBe(403);
  });

  it('unknown routes → 404 in the same envelope', async () => {
    const res = await gw.call('GET', '/v1/nothing-here', { key });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });

  it('bad transcript input → 400 naming the field', async () => {
    const res = await gw.call('POST', '/v1/sessions/s/messages', { key, body: { messages: [{ role: 'user', content: 'x', created_at: 'yesterday' }] } });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('messages[0].created_at');
    const page = await gw.call('GET', '/v1/sessions/s/messages?limit=0', { key });
    expect(page.status).toBe(400);
    expect(page.body.error.param).toBe('limit');
  });
});

describe('health', () => {
  it('/healthz answers without dependencies; /readyz reports SQL and Redis', async () => {
    const gw = await startGateway({ sql: 'pglite' });
    try {
      expect((await gw.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
      const ready = await gw.call('GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ready', checks: { sql: 'ok (pglite)', redis: 'ok' } });
    } finally {
      await gw.close();
    }
  });
});
