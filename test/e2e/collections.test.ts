import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// Knowledge collections through HTTP on real Postgres: create, list, read, delete; validation, name
// conflicts, tenant isolation, and keys limited to named collections.

describe('/v1/collections', () => {
  let gw: TestGateway;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  beforeAll(async () => {
    gw = await startGateway();
    a = await gw.tenant('a');
    b = await gw.tenant('b');
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('creates a collection with defaults, lists, reads and deletes it', async () => {
    const created = await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Handbook', description: 'HR policies' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      object: 'collection',
      name: 'Handbook',
      description: 'HR policies',
      embedding_model: 'use-lite-512',
      chunking: { target_tokens: 256, overlap_tokens: 32, passage_tokens: 96 },
      metadata: {},
    });
    expect(created.body.id).toMatch(/^col_/);
    const id = created.body.id;

    const list = await gw.call('GET', '/v1/collections', { key: a.key });
    expect(list.body.data.map((c: { id: string }) => c.id)).toContain(id);
    expect((await gw.call('GET', `/v1/collections/${id}`, { key: a.key })).body).toEqual(created.body);

    expect((await gw.call('DELETE', `/v1/collections/${id}`, { key: a.key })).body).toEqual({ id, object: 'collection.deleted', deleted: true });
    expect((await gw.call('GET', `/v1/collections/${id}`, { key: a.key })).status).toBe(404);
    expect((await gw.call('DELETE', `/v1/collections/${id}`, { key: a.key })).body.error.code).toBe('collection_not_found');
  });

  it('refuses bad input with a 400 naming the field, and a second collection of the same name with 409', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'x', chunking: { target_tokens: 10 } }, 'chunking.target_tokens'],
      [{ name: 'x', chunking: { target_tokens: 200, overlap_tokens: 150 } }, 'chunking.overlap_tokens'],
      [{ name: 'x', chunking: { size: 3 } }, 'chunking'],
      [{ name: 'x', embedding_model: 'text-embedding-3-large' }, 'embedding_model'],
      [{ name: 'x', colour: 'red' }, ''],
    ];
    for (const [body, param] of cases) {
      const res = await gw.call('POST', '/v1/collections', { key: a.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
      if (param) expect(res.body.error.param).toBe(param);
    }
    const first = await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Specs', chunking: { target_tokens: 800, overlap_tokens: 100 } } });
    expect(first.body.chunking).toEqual({ target_tokens: 800, overlap_tokens: 100, passage_tokens: 96 });
    const again = await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Specs' } });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'collection_exists', param: 'name' });
    // The same name in another tenant is another collection.
    expect((await gw.call('POST', '/v1/collections', { key: b.key, body: { name: 'Specs' } })).status).toBe(201);
  });

  it("never shows one tenant's collections to another", async () => {
    const mine = await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Private' } });
    const id = mine.body.id;
    expect((await gw.call('GET', `/v1/collections/${id}`, { key: b.key })).status).toBe(404);
    expect((await gw.call('DELETE', `/v1/collections/${id}`, { key: b.key })).status).toBe(404);
    const listB = await gw.call('GET', '/v1/collections', { key: b.key });
    expect(listB.body.data.some((c: { id: string }) => c.id === id)).toBe(false);
    expect((await gw.call('GET', `/v1/collections/${id}`, { key: a.key })).status).toBe(200);
  });

  it('limits a key with collection scopes to those collections', async () => {
    const one = (await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'One' } })).body.id;
    const two = (await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Two' } })).body.id;
    const limited = await gw.admin('POST', '/admin/v1/keys', { tenant_id: a.id, scopes: [`collection:${one}`] });
    const key = limited.body.key;
    const list = await gw.call('GET', '/v1/collections', { key });
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([one]);
    expect((await gw.call('GET', `/v1/collections/${one}`, { key })).status).toBe(200);
    expect((await gw.call('GET', `/v1/collections/${two}`, { key })).status).toBe(404);
    expect((await gw.call('DELETE', `/v1/collections/${two}`, { key })).status).toBe(404);
    const create = await gw.call('POST', '/v1/collections', { key, body: { name: 'Three' } });
    expect(create.status).toBe(403);
    expect(create.body.error.code).toBe('scope_not_allowed');
    // The unrestricted key still sees both.
    const all = await gw.call('GET', '/v1/collections', { key: a.key });
    expect(all.body.data.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining([one, two]));
  });

  it('deleting a tenant deletes its collections', async () => {
    const t = await gw.tenant('short-lived');
    await gw.call('POST', '/v1/collections', { key: t.key, body: { name: 'Temp' } });
    expect((await gw.admin('DELETE', `/admin/v1/tenants/${t.id}`)).status).toBe(200);
    const { rows } = await gw.gateway.deps.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM collections WHERE tenant_id = $1', [t.id]);
    expect(rows[0]?.n).toBe(0);
  });
});
