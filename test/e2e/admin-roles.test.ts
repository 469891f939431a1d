import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// Admin roles: owner (everything, admin keys included), admin (every other change), member (reads and
// the tenants' API keys), viewer (reads). Each denial is a 403 naming the role needed.

describe('admin roles', () => {
  let gw: TestGateway;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    gw = await startGateway();
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const res = await gw.admin('POST', '/admin/v1/admin-keys', { name: `${role} key`, role });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ object: 'admin_key', role, name: `${role} key` });
      keys[role] = res.body.key;
    }
  });
  afterAll(async () => {
    await gw?.close();
  });

  const as = (role: string, method: string, path: string, body?: unknown) => gw.call(method, path, { key: keys[role] as string, body });

  it('lets a viewer read and nothing else', async () => {
    expect((await as('viewer', 'GET', '/admin/v1/tenants')).status).toBe(200);
    expect((await as('viewer', 'GET', '/admin/v1/usage')).status).toBe(200);
    const denied = await as('viewer', 'POST', '/admin/v1/tenants', { name: 'Nope' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('role_not_allowed');
    expect(denied.body.error.message).toContain('needs "admin"');
    const t = (await gw.admin('POST', '/admin/v1/tenants', { name: 'Viewed' })).body;
    expect((await as('viewer', 'POST', '/admin/v1/keys', { tenant_id: t.id })).status).toBe(403);
  });

  it('lets a member manage API keys but not tenants, the cache or admin keys', async () => {
    const t = (await gw.admin('POST', '/admin/v1/tenants', { name: 'Members' })).body;
    const key = await as('member', 'POST', '/admin/v1/keys', { tenant_id: t.id, limits: { rpm: 10 } });
    expect(key.status).toBe(201);
    expect((await as('member', 'PATCH', `/admin/v1/keys/${key.body.id}`, { limits: { rpm: 20 } })).status).toBe(200);
    expect((await as('member', 'POST', `/admin/v1/keys/${key.body.id}/rotate`, {})).status).toBe(201);
    expect((await as('member', 'DELETE', `/admin/v1/keys/${key.body.id}`)).status).toBe(200);
    expect((await as('member', 'PATCH', `/admin/v1/tenants/${t.id}`, { limits: { rpm: 1 } })).status).toBe(403);
    expect((await as('member', 'DELETE', `/admin/v1/cache/entries?tenant_id=${t.id}`)).status).toBe(403);
    expect((await as('member', 'GET', '/admin/v1/admin-keys')).status).toBe(403);
  });

  it('lets an admin change everything but admin keys; only an owner manages those', async () => {
    const t = await as('admin', 'POST', '/admin/v1/tenants', { name: 'By an admin' });
    expect(t.status).toBe(201);
    expect((await as('admin', 'DELETE', `/admin/v1/tenants/${t.body.id}`)).status).toBe(200);
    const made = await as('admin', 'POST', '/admin/v1/admin-keys', { role: 'owner' });
    expect(made.status).toBe(403);
    expect(made.body.error.message).toContain('needs "owner"');
    const list = await gw.admin('GET', '/admin/v1/admin-keys');
    expect(list.body.data.map((k: { role: string }) => k.role).sort()).toEqual(['admin', 'member', 'viewer']);
    expect(JSON.stringify(list.body)).not.toContain(keys.viewer);
  });

  it('refuses a revoked admin key, an unknown role, and tenant keys on the admin API', async () => {
    const extra = await gw.admin('POST', '/admin/v1/admin-keys', { role: 'viewer' });
    expect((await gw.call('GET', '/admin/v1/tenants', { key: extra.body.key })).status).toBe(200);
    expect((await gw.admin('DELETE', `/admin/v1/admin-keys/${extra.body.id}`)).status).toBe(200);
    const revoked = await gw.call('GET', '/admin/v1/tenants', { key: extra.body.key });
    expect(revoked.status).toBe(401);
    const bad = await gw.admin('POST', '/admin/v1/admin-keys', { role: 'superuser' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('role');
    const t = await gw.tenant('tenant-key');
    const denied = await gw.call('GET', '/admin/v1/tenants', { key: t.key });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('admin_required');
    // An admin key is no tenant key: it cannot call chat completions.
    expect((await gw.call('POST', '/v1/chat/completions', { key: keys.admin as string, body: { model: 'm', messages: [{ role: 'user', content: 'x' }] } })).status).toBe(403);
  });
});
