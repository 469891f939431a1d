import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

describe('admin API: tenants and keys', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ redis: false });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('creates, lists, reads and deletes tenants', async () => {
    const created = await gw.admin('POST', '/admin/v1/tenants', { name: 'Globex', id: 'globex', metadata: { plan: 'pro' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'tenant', id: 'globex', name: 'Globex', metadata: { plan: 'pro' } });
    const dup = await gw.admin('POST', '/admin/v1/tenants', { name: 'Globex', id: 'globex' });
    expect(dup.status).toBe(409);
    expect((await gw.admin('GET', '/admin/v1/tenants')).body.data.map((t: { id: string }) => t.id)).toContain('globex');
    expect((await gw.admin('GET', '/admin/v1/tenants/globex')).body.name).toBe('Globex');
    expect((await gw.admin('DELETE', '/admin/v1/tenants/globex')).body.deleted).toBe(true);
    expect((await gw.admin('GET', '/admin/v1/tenants/globex')).status).toBe(404);
    expect((await gw.admin('DELETE', '/admin/v1/tenants/globex')).status).toBe(404);
  });

  it('issues a key once, stores only its hash, and revocation takes effect on the next request', async () => {
    const t = await gw.tenant('keys');
    const listed = await gw.admin('GET', `/admin/v1/keys?tenant_id=${t.id}`);
    expect(listed.body.data).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(t.key);
    const { rows } = await gw.gateway.deps.sql.query<{ secret_hash: string }>('SELECT secret_hash FROM api_keys WHERE tenant_id = $1', [t.id]);
    expect(rows[0]?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.secret_hash).not.toContain(t.key);

    expect((await gw.call('GET', '/v1/models', { key: t.key })).status).toBe(200); // now cached
    const revoked = await gw.admin('DELETE', `/admin/v1/keys/${listed.body.data[0].id}`);
    expect(revoked.body.revoked).toBe(true);
    expect((await gw.call('GET', '/v1/models', { key: t.key })).status).toBe(401);
  });

  it('refuses an expired key', async () => {
    const t = await gw.admin('POST', '/admin/v1/tenants', { name: 'exp' });
    const k = await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.body.id, expires_at: '2020-01-01T00:00:00Z' });
    expect((await gw.call('GET', '/v1/models', { key: k.body.key })).status).toBe(401);
  });

  it('deleting a tenant removes its sessions and locks out its keys', async () => {
    const t = await gw.tenant('doomed');
    await gw.call('POST', '/v1/sessions/s/messages', { key: t.key, body: { messages: [{ role: 'user', content: 'remember me' }] } });
    await gw.admin('DELETE', `/admin/v1/tenants/${t.id}`);
    expect((await gw.call('GET', '/v1/models', { key: t.key })).status).toBe(401);
    const { rows } = await gw.gateway.deps.sql.query('SELECT 1 FROM messages WHERE tenant_id = $1', [t.id]);
    expect(rows).toHaveLength(0);
  });

  it('a key for an unknown tenant → 404', async () => {
    const res = await gw.admin('POST', '/admin/v1/keys', { tenant_id: 'nope' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('tenant_not_found');
  });
});
