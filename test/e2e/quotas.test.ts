import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// Token and money quotas per key and tenant: soft limits send a signed webhook (retried until the
// receiver takes it) once per period, hard limits refuse with 429 naming the quota.

const SECRET = 'whsec-test-0123456789abcdef';

describe('quotas and budgets', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let hook: Server;
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let refuseNext = 0;

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        if (refuseNext > 0) {
          refuseNext--;
          res.writeHead(503).end();
          return;
        }
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => hook.once('listening', r));
    up = await startFakeOpenAi();
    const provider = { kind: 'openai', baseUrl: up.url, apiKey: 'sk-test-0123456789' };
    gw = await startGateway({
      config: {
        providers: { up: provider },
        models: {
          m: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] },
          // $1 per token: each answer (10 + 5 tokens) costs $15.
          dear: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }], price: { input: 1_000_000, output: 1_000_000 } },
        },
        alerts: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, secret: SECRET, attempts: 3, backoffMs: 20 },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await new Promise((r) => hook.close(r));
  });

  const ask = (key: string, model = 'm') => gw.call('POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'Hi' }] } });
  /** Writes the usage rows (and with them the quota counters) and waits for the alerts they sent. */
  const settle = async () => {
    await gw.gateway.deps.usage.flush();
    await gw.gateway.deps.quotas.idle();
  };

  it('alerts once at the soft limit with a signed, retried webhook, and refuses at the hard limit', async () => {
    const t = await gw.tenant();
    const k = await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, limits: { tokens_per_day: 40, alert_at: 0.5 } });
    expect(k.status).toBe(201);
    const key = k.body.key as string;

    expect((await ask(key)).status).toBe(200);
    await settle();
    expect(received).toHaveLength(0);

    refuseNext = 1; // the first delivery fails; the retry gets through
    expect((await ask(key)).status).toBe(200);
    await settle();
    expect(received).toHaveLength(1);
    const soft = received[0] as { headers: IncomingHttpHeaders; body: string };
    const alert = JSON.parse(soft.body);
    expect(alert).toMatchObject({ type: 'quota.soft_limit', tenant_id: t.id, scope: `key:${k.body.id}`, quota: 'tokens_per_day', used: 30, limit: 40 });
    expect(alert.period).toBe(`d:${new Date().toISOString().slice(0, 10)}`);
    const [ts, sig] = String(soft.headers['x-gateway-signature']).split(',').map((p) => p.split('=')[1]);
    expect(sig).toBe(createHmac('sha256', SECRET).update(`${ts}.${soft.body}`).digest('hex'));
    expect(soft.headers['x-gateway-event']).toBe('quota.soft_limit');

    // 30 of 40 used: this one is admitted, and crosses the quota.
    expect((await ask(key)).status).toBe(200);
    await settle();
    expect(received.map((r) => JSON.parse(r.body).type)).toEqual(['quota.soft_limit', 'quota.exceeded']);
    const refused = await ask(key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('quota_exceeded');
    expect(refused.body.error.param).toBe('tokens_per_day');
    expect(refused.body.error.message).toContain('tokens_per_day of this API key is 40 tokens and 45 are used');
    await settle();
    // Each alert fires once per period, whatever happens after.
    expect(received).toHaveLength(2);
    const { rows } = await gw.gateway.deps.sql.query<{ level: string; delivered: boolean }>(
      'SELECT level, delivered_at IS NOT NULL AS delivered FROM quota_alerts WHERE tenant_id = $1 ORDER BY level DESC',
      [t.id],
    );
    expect(rows).toEqual([
      { level: 'soft', delivered: true },
      { level: 'hard', delivered: true },
    ]);
    // Another key of the tenant has no quota of its own.
    expect((await ask(t.key)).status).toBe(200);
  });

  it('holds a tenant to its monthly budget in USD across its keys', async () => {
    const t = await gw.tenant('budget');
    expect((await gw.admin('PATCH', `/admin/v1/tenants/${t.id}`, { limits: { usd_per_month: 20 } })).status).toBe(200);
    const second = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id })).body.key as string;
    expect((await ask(t.key, 'dear')).status).toBe(200);
    await settle();
    expect((await ask(second, 'dear')).status).toBe(200);
    await settle();
    const refused = await ask(t.key, 'dear');
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toContain('usd_per_month of this tenant is 20 USD and 30 are used');
    expect((await ask(second)).status).toBe(429);
    const exceeded = received.map((r) => JSON.parse(r.body)).filter((a) => a.tenant_id === t.id);
    expect(exceeded.map((a) => a.type)).toEqual(['quota.soft_limit', 'quota.exceeded']);
    expect(exceeded[1]).toMatchObject({ scope: `tenant:${t.id}`, quota: 'usd_per_month', used: 30, limit: 20 });
  });

  it('refuses quotas that are not positive numbers', async () => {
    const t = await gw.tenant('bad');
    const res = await gw.admin('PATCH', `/admin/v1/tenants/${t.id}`, { limits: { usd_per_day: -1 } });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('limits.usd_per_day');
  });
});
