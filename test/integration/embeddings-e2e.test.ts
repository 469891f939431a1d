import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// Through the real gateway (createGateway → createApp) with the official openai SDK.
describe('POST /v1/embeddings through the gateway', () => {
  let gw: TestGateway;
  let tenant: Awaited<ReturnType<TestGateway['tenant']>>;

  beforeAll(async () => {
    gw = await startGateway({ sql: 'pglite', redis: false, config: { embeddings: { kind: 'use-lite', threads: 1 } } });
    tenant = await gw.tenant('embed');
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves the openai SDK with 512-dimensional USE-lite vectors', async () => {
    const res = await tenant.client.embeddings.create({ model: 'default', input: ['When did Caroline go to the support group?', 'She went yesterday.'] });
    expect(res.model).toBe('use-lite-512');
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding).toHaveLength(512);
    const norm = Math.hypot(...res.data[0]!.embedding);
    expect(norm).toBeCloseTo(1, 4);
  });

  it('names the model it serves when asked for another one', async () => {
    const res = await gw.call('POST', '/v1/embeddings', { key: tenant.key, body: { model: 'text-embedding-3-small', input: 'x' } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('model_not_found');
    expect(res.body.error.message).toContain('use-lite-512');
  });

  it('needs a tenant key', async () => {
    const res = await gw.call('POST', '/v1/embeddings', { body: { model: 'default', input: 'x' } });
    expect(res.status).toBe(401);
  });
});
