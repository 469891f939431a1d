import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { mapSqlError } from '../errors.js';
import { lockKey, type Sql, type SqlExecutor, type SqlParam, type SqlResult } from '../sql.js';

export interface PgliteOptions {
  /** Data directory, or undefined for an in-memory database (tests). */
  dataDir: string | undefined;
  schema: string;
  /** Postgres's page cache inside the WASM memory (default 32 MB). */
  sharedBuffersMb?: number;
}

/** Postgres's type id of bytea. */
const BYTEA_OID = 17;

/**
 * A bytea parameter in Postgres's hex input form, in one pass. PGlite's own serializer goes byte by
 * byte through an array of numbers and an array of strings: 3.7 s and hundreds of MB of garbage for
 * an uploaded document of 5 MB, against 0.5 s with this one (measured).
 */
const byteaHex = (value: unknown): string => {
  const v = value as Uint8Array;
  return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
};

/**
 * The `Sql` adapter for embedded PGlite (Postgres compiled to WASM, with pgvector): the default
 * when no DATABASE_URL is given. One connection, so queries are serialised by PGlite itself;
 * transactions and the advisory lock keep the same semantics as the pg adapter.
 */
export async function createPgliteSql(opts: PgliteOptions): Promise<Sql> {
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create(opts.dataDir, {
    extensions: { vector },
    postgresqlconf: [`shared_buffers=${opts.sharedBuffersMb ?? 32}MB`],
    serializers: { [BYTEA_OID]: byteaHex },
  });
  if (opts.schema !== 'public') await db.exec(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
  await db.exec(`SET search_path TO ${opts.schema}, public`);

  const exec = (target: PGlite | Transaction): SqlExecutor => ({
    async query<Row>(text: string, params?: readonly SqlParam[]): Promise<SqlResult<Row>> {
      const res = await target.query<Row>(text, params as unknown[] | undefined).catch((err: unknown) => {
        throw mapSqlError(err);
      });
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    async exec(script: string): Promise<void> {
      await target.exec(script);
    },
  });
  const direct = exec(db);

  return {
    kind: 'pglite',
    schema: opts.schema,
    query: direct.query,
    exec: direct.exec,
    transaction: (fn) => db.transaction((tx) => fn(exec(tx))),
    async withLock(name, fn) {
      // One connection: the advisory lock still guards against a second process on the same
      // data directory (which PGlite itself refuses), and keeps the code path identical.
      await db.query('SELECT pg_advisory_lock($1::bigint)', [lockKey(name)]);
      try {
        return await fn(direct);
      } finally {
        await db.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey(name)]).catch(() => {});
      }
    },
    async ping() {
      await db.query('SELECT 1');
    },
    async close() {
      await db.close();
    },
  };
}
