import { afterAll } from 'vitest';
import { createPgSql } from '../../src/store/pg/adapter.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import type { Sql } from '../../src/store/sql.js';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from './env.js';

/**
 * Both `Sql` adapters, for `describe.each`: real Postgres in a schema of its own per call (dropped after
 * the file's tests), and an in-memory PGlite. The caller migrates and closes what it opens.
 */
export function sqlAdapters(poolSize = 4): Array<[string, () => Promise<Sql>]> {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await dropSchema(s);
  });
  return [
    [
      'pg',
      () => {
        const schema = uniqueName('t');
        schemas.push(schema);
        return createPgSql({ url: TEST_DATABASE_URL, schema, poolSize });
      },
    ],
    ['PGlite', () => createPgliteSql({ dataDir: undefined, schema: 'public' })],
  ];
}
