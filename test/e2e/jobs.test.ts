import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteRedisKeys, dropSchema, TEST_REDIS_URL, uniqueName } from '../helpers/env.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startRelay } from '../helpers/relay.js';
import { startFakeQdrant } from '../helpers/vector-fake-qdrant.js';

// Turn embedding and document ingestion as jobs: with a shared vector store (Qdrant's wire format,
// served locally), a gateway that takes no jobs leaves them to whichever process does — here a second
// gateway on the same database and Redis — and does them itself while the queue cannot be reached.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

describe('background work through the job queue', () => {
  let qdrant: Awaited<ReturnType<typeof startFakeQdrant>>;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let front: TestGateway;
  let back: TestGateway | undefined;
  let t: { id: string; key: string };
  const schema = uniqueName('t');
  const keyPrefix = `${uniqueName('t')}:`;
  const config = () => ({ embeddings: { threads: 1 }, vector: { kind: 'qdrant', url: qdrant.url }, memory: { episodic: { enabled: true, sweepIntervalMs: 300 } } });

  beforeAll(async () => {
    qdrant = await startFakeQdrant();
    relay = await startRelay(new URL(TEST_REDIS_URL));
    front = await startGateway({ schema, keyPrefix, redis: relay.url, config: { ...config(), jobs: { process: false } } });
    t = await front.tenant('jobs');
  }, 60_000);
  afterAll(async () => {
    await back?.close();
    await front?.close();
    await dropSchema(schema);
    await deleteRedisKeys(keyPrefix);
    await relay?.close();
    await qdrant?.close();
  });

  const pending = async (session: string) => (await front.call('GET', `/v1/sessions/${session}`, { key: t.key })).body.memory.turns_pending_embedding;
  const turns = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} about the garden shed roof` }));
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} did not happen`);
  }

  it('a gateway that takes no jobs queues them; the process that takes jobs embeds and ingests', async () => {
    await front.call('POST', '/v1/sessions/q1/messages', { key: t.key, body: { messages: turns(6) } });
    const col = (await front.call('POST', '/v1/collections', { key: t.key, body: { name: 'Shed' } })).body.id;
    const doc = (await front.call('POST', `/v1/collections/${col}/documents`, { key: t.key, body: { text: '# Shed\n\nThe roof needs new felt before winter.' } })).body.data[0];
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await pending('q1')).toBe(6);
    expect((await front.call('GET', `/v1/documents/${doc.id}`, { key: t.key })).body.status).toBe('queued');
    const queued = (await front.admin('GET', '/admin/v1/jobs')).body.counts;
    expect(queued.embed_turns.waiting + queued.embed_turns.delayed).toBeGreaterThan(0);
    expect(queued.ingest_documents.waiting + queued.ingest_documents.delayed).toBeGreaterThan(0);

    back = await startGateway({ schema, keyPrefix, redis: relay.url, config: config() });
    await until(async () => (await pending('q1')) === 0, 'embedding by the job-taking process');
    await until(async () => (await front.call('GET', `/v1/documents/${doc.id}`, { key: t.key })).body.status === 'ready', 'ingestion by the job-taking process');
    const hits = await front.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'roof felt', mode: 'vector' } });
    expect(hits.body.data[0]).toMatchObject({ document_id: doc.id });
    await back.close();
    back = undefined;
  }, 60_000);

  it('with the queue unreachable, the gateway does the work itself', async () => {
    relay.cut();
    try {
      await front.call('POST', '/v1/sessions/q2/messages', { key: t.key, body: { messages: turns(4) } });
      await until(async () => (await pending('q2')) === 0, 'embedding in the gateway while Redis is away');
      const s: Json = (await front.call('GET', '/v1/sessions/q2', { key: t.key })).body;
      expect(s.last_seq).toBe(4);
    } finally {
      await relay.restore();
    }
  }, 60_000);
});
