import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Teams inside a tenant: keys belong to one, the team's rate limits and quotas are shared by its keys
// (and not by the tenant's other keys), and usage can be grouped by team.

describe('teams', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;

  beforeAll(async () => {
    up = await startFakeOpenAi();
    gw = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url }]) });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const ask = (key: string) => gw.call('POST', '/v1/chat/completions', { key, body: { model: 'm', messages: [{ role: 'user', content: 'Hi' }] } });

  it('shares a team\'s limits and quotas among its keys only', async () => {
    const t = await gw.tenant();
    const team = await gw.admin('POST', `/admin/v1/tenants/${t.id}/teams`, { id: 'support', name: 'Support', limits: { rpm: 2 } });
    expect(team.status).toBe(201);
    expect(team.body).toMatchObject({ object: 'team', id: 'support', tenant_id: t.id, limits: { rpm: 2 } });
    expect((await gw.admin('POST', `/admin/v1/tenants/${t.id}/teams`, { id: 'support', name: 'Again' })).status).toBe(409);
    const a = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, team_id: 'support' })).body;
    const b = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, team_id: 'support' })).body;
    expect(a.team_id).toBe('support');
    expect((await ask(a.key)).status).toBe(200);
    expect((await ask(b.key)).status).toBe(200);
    const refused = await ask(a.key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toContain('requests per minute of team "support"');
    // The tenant's key outside the team is not held by the team's limit.
    expect((await ask(t.key)).status).toBe(200);

    // A token quota for the team, reached by its two keys together: 30 of 70 are used already (two
    // answers of 10 + 5 tokens), three more make 75.
    const patched = await gw.admin('PATCH', `/admin/v1/tenants/${t.id}/teams/support`, { limits: { tokens_per_day: 70 } });
    expect(patched.body.limits).toEqual({ tokens_per_day: 70 });
    for (const key of [a.key, b.key, a.key]) {
      expect((await ask(key)).status).toBe(200);
      await gw.gateway.deps.usage.flush();
    }
    const over = await ask(b.key);
    expect(over.status).toBe(429);
    expect(over.body.error.message).toContain('tokens_per_day of team "support" is 70 tokens and 75 are used');

    const byTeam = await gw.call('GET', '/v1/usage?group_by=team', { key: t.key });
    const support = byTeam.body.data.find((r: { team: string | null }) => r.team === 'support');
    // Refused requests (rate limit, quota) stop before a model is called and write no usage row.
    expect(support.requests).toBe(5);
    expect(byTeam.body.data.find((r: { team: string | null }) => r.team === null).requests).toBe(1);
  });

  it('refuses a key for a team the tenant does not have, and frees keys of a deleted team', async () => {
    const t = await gw.tenant('other');
    const missing = await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, team_id: 'ghosts' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('team_not_found');
    await gw.admin('POST', `/admin/v1/tenants/${t.id}/teams`, { id: 'ops', name: 'Ops', limits: { rpm: 1 } });
    const k = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, team_id: 'ops' })).body;
    expect((await ask(k.key)).status).toBe(200);
    expect((await ask(k.key)).status).toBe(429);
    expect((await gw.admin('DELETE', `/admin/v1/tenants/${t.id}/teams/ops`)).status).toBe(200);
    expect((await ask(k.key)).status).toBe(200);
    const keys = await gw.admin('GET', `/admin/v1/keys?tenant_id=${t.id}`);
    expect(keys.body.data.find((x: { id: string }) => x.id === k.id).team_id).toBeNull();
    expect((await gw.admin('GET', `/admin/v1/tenants/${t.id}/teams`)).body.data).toEqual([]);
  });
});
