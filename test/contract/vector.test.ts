import pg from 'pg';
import type { Sql } from '../../src/store/sql.js';
import { createPgSql } from '../../src/store/pg/adapter.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import { createMemoryVectorStore } from '../../src/vector/memory/adapter.js';
import { createPgvectorStore } from '../../src/vector/pgvector/adapter.js';
import { createQdrantVectorStore } from '../../src/vector/qdrant/adapter.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/env.js';
import { startFakeQdrant } from '../helpers/vector-fake-qdrant.js';
import { randomVector, seeded } from '../helpers/vector-fixtures.js';
import { vectorContract } from './vector.contract.js';

/** Whether the test Postgres can install pgvector (Debian's here cannot; docker compose's image can). */
async function pgHasVector(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await client.connect();
    const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
    return rows.length > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

vectorContract('in-memory reference', { open: async () => createMemoryVectorStore() });

{
  let sql: Sql | undefined;
  vectorContract('pgvector on PGlite (in memory, one instance for the suite)', {
    async open() {
      sql = await createPgliteSql({ dataDir: undefined, schema: uniqueName('vec') });
      return createPgvectorStore({ sql });
    },
    close: async () => sql?.close(),
  });
}

describe('pgvector on PGlite: a large upsert leaves the event loop its turns', () => {
  // PGlite updates the HNSW index on this thread: a batch is written in small statements with the
  // loop's turn between them, so timers and sockets are not held for the whole batch.
  let sql: Sql;
  beforeAll(async () => {
    sql = await createPgliteSql({ dataDir: undefined, schema: uniqueName('vec') });
  });
  afterAll(async () => sql?.close());

  it('runs other work between the statements of one upsert, and writes every point', async () => {
    const store = createPgvectorStore({ sql });
    await store.ensureCollection({ name: 'turns', dimensions: 64, metric: 'cosine', model: 'm' });
    const rand = seeded(3);
    const points = Array.from({ length: 64 }, (_, i) => ({ id: `p${i}`, vector: randomVector(rand, 64), payload: { n: i } }));
    let turns = 0;
    let writing = true;
    const tick = (): void => {
      turns++;
      if (writing) setImmediate(tick);
    };
    setImmediate(tick);
    await store.upsert({ collection: 'turns', tenantId: 't1', points });
    writing = false;
    // 64 points in slices of 4: the loop turned between (nearly) every two statements.
    expect(turns).toBeGreaterThanOrEqual(15);
    expect(await store.count({ collection: 'turns', tenantId: 't1' })).toBe(64);
    const [self] = await store.search({ collection: 'turns', tenantId: 't1', vector: points[40]!.vector, topK: 1 });
    expect(self).toMatchObject({ id: 'p40', payload: { n: 40 } });
    await store.close();
  });
});

const hasVector = await pgHasVector();
describe.skipIf(!hasVector)(hasVector ? 'pgvector on Postgres' : 'pgvector on Postgres (skipped: the test Postgres has no pgvector extension)', () => {
  let sql: Sql | undefined;
  let schema = '';
  vectorContract('pgvector on Postgres', {
    async open() {
      schema = uniqueName('vec');
      sql = await createPgSql({ url: TEST_DATABASE_URL, schema, poolSize: 3 });
      return createPgvectorStore({ sql });
    },
    async close() {
      await sql?.close();
      await dropSchema(schema);
    },
  });
});

const QDRANT_URL = process.env.QDRANT_URL;
describe.skipIf(!QDRANT_URL)('Qdrant (skipped: QDRANT_URL not set)', () => {
  vectorContract('Qdrant', {
    open: async () => createQdrantVectorStore({ url: QDRANT_URL ?? '', apiKey: process.env.QDRANT_API_KEY, prefix: `${uniqueName('gw')}_` }),
  });
});

{
  // Always runs: the real client and adapter against an in-process stand-in of Qdrant's REST API,
  // so the adapter's requests and response handling are exercised even where no Qdrant runs.
  let fake: Awaited<ReturnType<typeof startFakeQdrant>> | undefined;
  vectorContract('Qdrant adapter over a fake Qdrant REST server (wiring only)', {
    async open() {
      fake = await startFakeQdrant();
      return createQdrantVectorStore({ url: fake.url, prefix: 'gw_' });
    },
    close: async () => fake?.close(),
  });
}
