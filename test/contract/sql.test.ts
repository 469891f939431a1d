import { afterAll, describe, expect, it } from 'vitest';
import { createPgSql } from '../../src/store/pg/adapter.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/env.js';
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
