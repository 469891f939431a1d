import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, type FakeReply, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// GET /metrics scraped and parsed after real traffic: requests by route template and status, latency
// histograms per stage, tokens and cost, upstream errors by target, and the job queue's depth.

/** Prometheus text → sample name with labels → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('Prometheus metrics', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let reply: () => FakeReply = () => ({ kind: 'text', text: 'Hello.' });

  beforeAll(async () => {
    up = await startFakeOpenAi(() => reply());
    gw = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url, model: 'gpt-4o-mini', retries: 1 }]) });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('counts requests, stages, tokens, cost, upstream errors and queue depth', async () => {
    const t = await gw.tenant();
    for (let i = 0; i < 3; i++) {
      expect((await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: `Hi ${i}` }] } })).status).toBe(200);
    }
    reply = () => ({ kind: 'error', status: 500 });
    expect((await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: 'Fail' }] } })).status).toBe(502);
    reply = () => ({ kind: 'text', text: 'Hello.' });
    expect((await gw.call('GET', '/v1/usage', { key: t.key })).status).toBe(200);
    expect((await gw.call('GET', '/v1/sessions/nope/messages', { key: t.key })).status).toBe(404);

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const m = parse(await res.text());
    expect(m.get('gateway_http_requests_total{route="/v1/chat/completions",method="POST",status="200"}')).toBe(3);
    expect(m.get('gateway_http_requests_total{route="/v1/chat/completions",method="POST",status="502"}')).toBe(1);
    expect(m.get('gateway_http_requests_total{route="/v1/usage",method="GET",status="200"}')).toBe(1);
    // The path template, not the URL with its session id.
    expect(m.get('gateway_http_requests_total{route="/v1/sessions/:id/messages",method="GET",status="404"}')).toBe(1);
    expect(m.get('gateway_http_request_duration_seconds_count{route="/v1/chat/completions"}')).toBe(4);
    for (const stage of ['limits', 'context', 'cache', 'upstream']) expect(m.get(`gateway_stage_duration_seconds_count{stage="${stage}"}`), stage).toBe(4);
    expect(m.get('gateway_stage_duration_seconds_count{stage="persist"}')).toBe(3);
    // The failing request was tried twice (one retry) on the same target.
    expect(m.get('gateway_upstream_errors_total{provider="up",model="gpt-4o-mini",code="upstream_server_error"}')).toBe(2);
    expect(m.get('gateway_upstream_tokens_total{alias="m",direction="prompt"}')).toBe(30);
    expect(m.get('gateway_upstream_tokens_total{alias="m",direction="completion"}')).toBe(15);
    // gpt-4o-mini: 10 prompt and 5 completion tokens per answer at 0.15 / 0.60 USD per million.
    expect(m.get('gateway_cost_usd_total{alias="m"}')).toBeCloseTo((3 * (10 * 0.15 + 5 * 0.6)) / 1e6, 12);
    expect([...m.keys()].some((k) => k.startsWith('gateway_jobs{kind='))).toBe(true);
  });
});
