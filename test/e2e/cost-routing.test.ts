import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// Cost-aware routing: the cheapest target of the best tier first, and every alias falling to its
// cheapest target once the caller's USD budget passes the alias's threshold.

describe('cost-aware routing', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let failing = new Set<string>();

  beforeAll(async () => {
    up = await startFakeOpenAi((req) => (failing.has(req.body.model) ? { kind: 'error', status: 503 } : { kind: 'text', text: `from ${req.body.model}` }));
    const t = (model: string, tier?: number) => ({ provider: 'up', model, retries: 0, ...(tier ? { tier } : {}) });
    gw = await startGateway({
      config: {
        providers: { up: { kind: 'openai', baseUrl: up.url, apiKey: 'sk-test-0123456789' } },
        // $1 a token for gpt-4o here: each answer (10 + 5 tokens) costs $15.
        prices: { 'gpt-4o': { input: 1_000_000, output: 1_000_000 } },
        models: {
          tiered: { targets: [t('gpt-4o', 1), t('gpt-4o-mini', 1), t('llama3.1:8b', 2)], routing: { strategy: 'cheapest' } },
          budgeted: { targets: [t('gpt-4o'), t('gpt-4o-mini')], routing: { budgetThreshold: 0.5 } },
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const ask = (key: string, model: string) => gw.call('POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'Hi' }] } });

  it('tries the cheapest target of the best tier first, then the rest by tier and price', async () => {
    const t = await gw.tenant();
    expect((await ask(t.key, 'tiered')).body.choices[0].message.content).toBe('from gpt-4o-mini');
    failing = new Set(['gpt-4o-mini']);
    expect((await ask(t.key, 'tiered')).body.choices[0].message.content).toBe('from gpt-4o');
    failing = new Set(['gpt-4o-mini', 'gpt-4o']);
    // The free local model is cheapest of all, but of a lower tier: it comes last.
    expect((await ask(t.key, 'tiered')).body.choices[0].message.content).toBe('from llama3.1:8b');
    failing = new Set();
  });

  it('falls to the cheapest target once the budget passes the threshold, and says so', async () => {
    const t = await gw.tenant('budget');
    expect((await gw.admin('PATCH', `/admin/v1/tenants/${t.id}`, { limits: { usd_per_month: 40 } })).status).toBe(200);
    const spend = async () => {
      const res = await ask(t.key, 'budgeted');
      await gw.gateway.deps.usage.flush();
      return res;
    };
    const first = await spend();
    expect(first.body.choices[0].message.content).toBe('from gpt-4o');
    expect(first.headers.get('x-route-economy')).toBeNull();
    // $15 of $40 used: under the 0.5 threshold.
    expect((await spend()).body.choices[0].message.content).toBe('from gpt-4o');
    // $30 of $40: past it. The cheap target answers; the budget is not yet exhausted.
    const economy = await spend();
    expect(economy.body.choices[0].message.content).toBe('from gpt-4o-mini');
    expect(economy.headers.get('x-route-economy')).toBe('budget 75% used');
    // Another tenant without a budget is routed as configured.
    const other = await gw.tenant('free');
    expect((await ask(other.key, 'budgeted')).body.choices[0].message.content).toBe('from gpt-4o');
  });
});
