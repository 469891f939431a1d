import pg from 'pg';
import { mapSqlError } from '../errors.js';
import { lockKey, type QueryOptions, type Sql, type SqlExecutor, type SqlParam, type SqlResult } from '../sql.js';

// Return int8/bigint counts as JS numbers: our ids and sequences stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PgOptions {
  url: string;
  schema: string;
  poolSize: number;
}

/**
 * Every connection works in the gateway's schema; `public` stays on the path for extensions. A URL's
 * own `options` (`?options=-c statement_timeout=5000`) would replace the pool's and with them the
 * search path, so the tables would go to `public`: they are kept, and the search path set after them.
 */
function connectionOptions(url: string, schema: string): { connectionString: string; options: string } {
  const searchPath = `-c search_path=${schema},public`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, options: searchPath };
  }
  const own = parsed.searchParams.get('options');
  if (own === null) return { connectionString: url, options: searchPath };
  parsed.searchParams.delete('options');
  return { connectionString: parsed.toString(), options: `${own} ${searchPath}` };
}

/** The `Sql` adapter for a Postgres server, through a `pg` Pool. */
export async function createPgSql(opts: PgOptions): Promise<Sql> {
  const pool = new pg.Pool({
    ...connectionOptions(opts.url, opts.schema),
    max: opts.poolSize,
    // A request waits at most this long for a free connection before failing with a 503.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  if (opts.schema !== 'public') {
    // Concurrent `CREATE SCHEMA IF NOT EXISTS` can still fail with a unique violation, so two
    // gateways starting at once serialise it under a transaction-scoped advisory lock.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`schema:${opts.schema}`)]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  const exec = (client: pg.Pool | pg.PoolClient): SqlExecutor => ({
    async query<Row>(text: string, params?: readonly SqlParam[], opts?: QueryOptions): Promise<SqlResult<Row>> {
      try {
        const values = params as unknown[] | undefined;
        const res = opts?.prepare ? await client.query({ name: opts.prepare, text, values }) : await client.query(text, values);
        return { rows: res.rows as Row[], rowCount: res.rowCount ?? 0 };
      } catch (err) {
        throw mapSqlError(err);
      }
    },
    async exec(script: string): Promise<void> {
      await client.query(script);
    },
  });
  const pooled = exec(pool);

  async function onClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect().catch((err: unknown) => {
      throw mapSqlError(err);
    });
    // The pool listens for errors on idle clients only: a connection lost while checked out (a
    // Postgres restart mid-transaction) would otherwise be an uncaught 'error' that ends the process.
    // The query in flight rejects on its own; the broken client is destroyed, not reused.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost = err;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } finally {
      client.off('error', onError);
      client.release(lost);
    }
  }

  return {
    kind: 'pg',
    schema: opts.schema,
    query: pooled.query,
    exec: pooled.exec,
    transaction: (fn) =>
      onClient(async (client) => {
        await client.query('BEGIN');
        try {
          const result = await fn(exec(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      }),
    withLock: (name, fn) =>
      onClient(async (client) => {
        await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey(name)]);
        try {
          return await fn(exec(client));
        } finally {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey(name)]).catch(() => {});
        }
      }),
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}
