import { afterAll, describe, expect, it } from 'vitest';
import { createPgSql } from '../../src/store/pg/adapter.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/env.js';
import { startRelay } from '../helpers/relay.js';
import { sqlContract } from './sql.contract.js';

const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
});

sqlContract('pg (real Postgres, a unique schema per case)', {
  async open() {
    const schema = uniqueName('c');
    schemas.push(schema);
    return createPgSql({ url: TEST_DATABASE_URL, schema, poolSize: 3 });
  },
  openSecond: (first) => createPgSql({ url: TEST_DATABASE_URL, schema: first.schema, poolSize: 3 }),
});

sqlContract('PGlite (in memory, with pgvector)', {
  open: () => createPgliteSql({ dataDir: undefined, schema: uniqueName('c') }),
});

describe('pg adapter when the connection is lost', () => {
  it('fails the transaction and the lock holder in flight, without an uncaught error, and works again after', async () => {
    const relay = await startRelay(new URL(TEST_DATABASE_URL), 5432);
    const url = new URL(TEST_DATABASE_URL);
    url.host = new URL(relay.url).host;
    const schema = uniqueName('c');
    schemas.push(schema);
    const sql = await createPgSql({ url: url.toString(), schema, poolSize: 2 });
    try {
      const inFlight = [
        sql.transaction((tx) => tx.query('SELECT pg_sleep(5)')),
        sql.withLock('lost', (tx) => tx.query('SELECT pg_sleep(5)')),
      ].map((p) => p.then(() => 'done', (err: Error) => err.message));
      await new Promise((r) => setTimeout(r, 300));
      relay.cut();
      // Vitest fails the run on an uncaught exception, which is what an unhandled client 'error' is.
      expect(await Promise.all(inFlight)).toEqual([expect.stringMatching(/terminated|unavailable/i), expect.stringMatching(/terminated|unavailable/i)]);
      await relay.restore();
      expect((await sql.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).rows).toEqual([{ one: 1 }]);
    } finally {
      await sql.close();
      await relay.close();
    }
  });
});

describe('pg adapter with options in DATABASE_URL', () => {
  it("keeps the URL's options and still works in its own schema, not public", async () => {
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', '-c statement_timeout=12345 -c search_path=public');
    const schema = uniqueName('c');
    schemas.push(schema);
    const sql = await createPgSql({ url: url.toString(), schema, poolSize: 1 });
    try {
      const { rows } = await sql.query<{ schema: string; timeout: string }>("SELECT current_schema() AS schema, current_setting('statement_timeout') AS timeout");
      expect(rows).toEqual([{ schema, timeout: '12345ms' }]);
      await sql.exec('CREATE TABLE placed (x int)');
      const { rows: where } = await sql.query<{ schemaname: string }>("SELECT schemaname FROM pg_tables WHERE tablename = 'placed'");
      expect(where).toEqual([{ schemaname: schema }]);
    } finally {
      await sql.close();
    }
  });
});

describe('PGlite settings', () => {
  it('sizes its page cache as configured (default 32 MB)', async () => {
    for (const [mb, shown] of [[undefined, '32MB'], [8, '8MB']] as const) {
      const sql = await createPgliteSql({ dataDir: undefined, schema: 'public', ...(mb ? { sharedBuffersMb: mb } : {}) });
      const { rows } = await sql.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(rows[0]?.shared_buffers).toBe(shown);
      await sql.close();
    }
  });
});
