import type { Logger } from '../observability/logger.js';
import type { Quotas } from '../governance/quotas.js';
import type { Sql } from '../store/sql.js';
import { GatewayError } from '../errors.js';

/** One request's usage, as the chat path reports it when the response has ended. */
export interface UsageEvent {
  tenantId: string;
  requestId: string;
  keyId: string | null;
  teamId: string | null;
  userId: string | null;
  sessionId: string | null;
  route: string;
  alias: string;
  provider: string | null;
  model: string | null;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  /** Tokens per context section, when the gateway assembled the prompt. */
  contextTokens: Record<string, number> | null;
  cache: 'exact' | 'semantic' | null;
  costUsd: number;
  savedUsd: number;
  latencyMs: number;
  status: number;
  errorCode: string | null;
  at: Date;
}

/** Rows written per INSERT; more wait for the next flush. */
const BATCH = 500;
/** Rows kept while SQL is away; past it the oldest are dropped, and counted, so memory stays bounded. */
const MAX_BUFFERED = 50_000;
/**
 * Short, so each write is small: at 400 req/s a flush of one second's rows held the event loop ~4 ms
 * and gave Postgres ~12 ms of CPU at once, on the core the gateway shares with it, and the requests of
 * that moment paid for it (BENCHMARKS.md, run 11).
 */
const FLUSH_MS = 200;

/** usage_events' columns as the batch's JSON objects name them, with their SQL types. */
const COLUMNS = {
  tenant_id: 'text',
  request_id: 'text',
  key_id: 'text',
  user_id: 'text',
  session_id: 'text',
  route: 'text',
  alias: 'text',
  provider: 'text',
  model: 'text',
  prompt_tokens: 'int',
  cached_tokens: 'int',
  completion_tokens: 'int',
  context_tokens: 'jsonb',
  cache: 'text',
  cost_usd: 'float8',
  saved_usd: 'float8',
  latency_ms: 'float8',
  status: 'int',
  error_code: 'text',
  created_at: 'timestamptz',
  team_id: 'text',
} as const;
const NAMES = Object.keys(COLUMNS).join(', ');
const TYPED = Object.entries(COLUMNS)
  .map(([name, type]) => `${name} ${type}`)
  .join(', ');
// A row whose tenant was deleted meanwhile is skipped, not a failed batch. `json` rather than `jsonb`:
// the batch is read once, row by row, so converting all of it to jsonb first was ~15 % more work.
const INSERT = `INSERT INTO usage_events (${NAMES})
  SELECT ${NAMES} FROM json_to_recordset($1::json) AS u(${TYPED})
  WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = u.tenant_id)`;

/**
 * Usage rows, written off the request path: `record` appends to a buffer that is flushed every
 * FLUSH_MS (or at BATCH rows) as one multi-row INSERT (json_to_recordset), so the hot path costs an array
 * push. A failing flush keeps the rows for the next one (up to MAX_BUFFERED); a crash loses at most
 * the rows of the last FLUSH_MS, and `close` flushes what is left.
 */
export function createUsageRecorder(deps: {
  sql: Sql;
  log: Logger;
  /** Quota counters, added to in the transaction that writes the rows; alerts handled after it commits. */
  quotas?: Pick<Quotas, 'account' | 'afterCommit'> | undefined;
  /** Rows kept while SQL is away (default MAX_BUFFERED). */
  maxBuffered?: number;
}) {
  const { sql, log } = deps;
  const maxBuffered = deps.maxBuffered ?? MAX_BUFFERED;
  let buffer: UsageEvent[] = [];
  let flushing: Promise<void> | undefined;
  let dropped = 0;
  const timer = setInterval(() => void drain(), FLUSH_MS);
  timer.unref();

  async function write(rows: readonly UsageEvent[]): Promise<void> {
    // The batch goes as one JSON document: a parameter per column made pg build an array literal
    // per column, escaping each value (~4 KB of garbage per row, on the gateway's thread).
    const batch = JSON.stringify(
      rows.map((e) => ({
        tenant_id: e.tenantId,
        request_id: e.requestId,
        key_id: e.keyId,
        user_id: e.userId,
        session_id: e.sessionId,
        route: e.route,
        alias: e.alias,
        provider: e.provider,
        model: e.model,
        prompt_tokens: e.promptTokens,
        cached_tokens: e.cachedTokens,
        completion_tokens: e.completionTokens,
        context_tokens: e.contextTokens,
        cache: e.cache,
        cost_usd: e.costUsd,
        saved_usd: e.savedUsd,
        latency_ms: e.latencyMs,
        status: e.status,
        error_code: e.errorCode,
        created_at: e.at,
        team_id: e.teamId,
      })),
    );
    const alerts = await sql.transaction(async (tx) => {
      await tx.query(INSERT, [batch]);
      return deps.quotas ? deps.quotas.account(tx, rows) : [];
    });
    deps.quotas?.afterCommit(alerts);
  }

  const keep = (err: unknown): void => {
    log.warn({ err: (err as Error).message, rows: buffer.length }, 'usage rows not written; kept for the next flush');
  };

  /**
   * Writes the rows buffered now, and goes on while full batches are waiting; rows that arrive
   * meanwhile wait for the next tick. (Draining until the buffer was empty kept writing the 3–4 rows
   * that arrived during each write, one transaction after another: ~100 a second at 400 req/s.)
   * One at a time: while one runs, this is that one.
   */
  function drain(): Promise<void> {
    if (flushing) return flushing;
    let left = buffer.length;
    flushing = (async () => {
      while (buffer.length > 0 && (left > 0 || buffer.length >= BATCH)) {
        const rows = buffer.slice(0, BATCH);
        left -= rows.length;
        try {
          await write(rows);
        } catch (err) {
          if (!unstorable(err)) return keep(err);
          // A row Postgres cannot store (text with a NUL) must not hold back the others: they are
          // written one by one, and the rows that cannot be are dropped, and said.
          for (const [i, row] of rows.entries()) {
            try {
              await write([row]);
            } catch (one) {
              if (!unstorable(one)) {
                buffer = buffer.slice(i);
                return keep(one);
              }
              dropped++;
              log.error({ requestId: row.requestId, dropped }, 'usage row cannot be stored (text with a NUL character); dropped');
            }
          }
        }
        buffer = buffer.slice(rows.length);
      }
    })().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  /** Resolves once every row recorded before the call is written (or kept after a failure). */
  async function flush(): Promise<void> {
    if (flushing) await flushing;
    if (buffer.length > 0) await drain();
  }

  return {
    record(e: UsageEvent): void {
      buffer.push(e);
      if (buffer.length > maxBuffered) {
        // Down to 90 % of the limit: one copy of the buffer and one error line per tenth of it, not per
        // request, while SQL is away. (A write on its way removes its rows by count when it ends, so
        // dropping from the front comes to dropping the oldest rows it does not hold.)
        const excess = buffer.length - Math.floor(maxBuffered * 0.9);
        buffer = buffer.slice(excess);
        dropped += excess;
        log.error({ dropped }, 'usage buffer full (SQL unreachable): oldest rows dropped');
      }
      if (buffer.length >= BATCH) void drain();
    },
    /** Writes every buffered row now (tests, shutdown, and before a usage query). */
    flush,
    async close(): Promise<void> {
      clearInterval(timer);
      await flush();
    },
  };
}

export type UsageRecorder = ReturnType<typeof createUsageRecorder>;

/** The error of a statement that holds text Postgres cannot store (store/errors.ts maps it). */
const unstorable = (err: unknown): boolean => err instanceof GatewayError && err.code === 'invalid_characters';
