/**
 * The `Sql` port: the relational database, source of truth for everything durable. Two adapters
 * (pg Pool and embedded PGlite) run the same SQL and the same migrations. No driver type leaks
 * through: callers see rows as plain objects.
 */
export type SqlParam = string | number | boolean | null | Date | Buffer | readonly SqlParam[] | Record<string, unknown>;

export interface SqlResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Names a statement the hot path runs on every request: the server parses and plans it once per
   * connection and reuses the plan (pg). Adapters without server-side statements ignore it.
   */
  prepare?: string;
}

export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly SqlParam[], opts?: QueryOptions): Promise<SqlResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface Sql extends SqlExecutor {
  /** Which adapter this is, for /readyz and logs. */
  readonly kind: 'pg' | 'pglite';
  /** The schema that holds the gateway's tables. */
  readonly schema: string;
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs `fn` holding a database-wide advisory lock on one connection (migrations use it). */
  withLock<T>(key: string, fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** 64-bit advisory lock key from a name, computed the same way by every adapter. */
export function lockKey(name: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(name)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n);
  return BigInt.asIntN(64, h).toString();
}
