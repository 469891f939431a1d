import type { Config } from '../config/schema.js';
import { createPgSql } from './pg/adapter.js';
import { createPgliteSql } from './pglite/adapter.js';
import type { Sql } from './sql.js';

/** Picks the Sql adapter from config: Postgres when a URL is given, embedded PGlite otherwise. */
export function openSql(config: Config['database']): Promise<Sql> {
  if (config.url) return createPgSql({ url: config.url, schema: config.schema, poolSize: config.poolSize });
  return createPgliteSql({ dataDir: config.dataDir, schema: config.schema, sharedBuffersMb: config.pgliteSharedBuffersMb });
}
