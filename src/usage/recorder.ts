import type { Logger } from '../observability/logger.js';
import type { Quotas } from '../governance/quotas.js';
import type { Sql, SqlParam } from '../store/sql.js';

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
const FLUSH_MS = 1000;

const COLUMNS = [
  'tenant_id',
  'request_id',
  'key_id',
  'user_id',
  'session_id',
  'route',
  'alias',
  'provider',
  'model',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'context_tokens',
  'cache',
  'cost_usd',
  'saved_usd',
  'latency_ms',
  'status',
  'error_code',
  'created_at',
  'team_id',
] as const;
const TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'int', 'int', 'int', 'jsonb', 'text', 'float8', 'float8', 'float8', 'int', 'text', 'timestamptz', 'text'];

/**
 * Usage rows, written off the request path: `record` appends to a buffer that is flushed every
 * second (or at BATCH rows) as one multi-row INSERT through `unnest`, so the hot path costs an array
 * push. A failing flush keeps the rows for the next one (up to MAX_BUFFERED); a crash loses at most
 * the last second's rows, and `close` flushes what is left.
 */
export function createUsageRecorder(deps: {
  sql: Sql;
  log: Logger;
  /** Quota counters, added to in the transaction that writes the rows; alerts handled after it commits. */
  quotas?: Pick<Quotas, 'account' | 'afterCommit'> | undefined;
}) {
  const { sql, log } = deps;
  let buffer: UsageEvent[] = [];
  let flushing: Promise<void> | undefined;
  let dropped = 0;
  const timer = setInterval(() => void flush(), FLUSH_MS);
  timer.unref();

  async function write(rows: readonly UsageEvent[]): Promise<void> {
    const cols: SqlParam[][] = COLUMNS.map(() => []);
    for (const e of rows) {
      const values: SqlParam[] = [
        e.tenantId,
        e.requestId,
        e.keyId,
        e.userId,
        e.sessionId,
        e.route,
        e.alias,
        e.provider,
        e.model,
        e.promptTokens,
        e.cachedTokens,
        e.completionTokens,
        e.contextTokens ? JSON.stringify(e.contextTokens) : null,
        e.cache,
        e.costUsd,
        e.savedUsd,
        e.latencyMs,
        e.status,
        e.errorCode,
        e.at.toISOString(),
        e.teamId,
      ];
      for (let i = 0; i < values.length; i++) (cols[i] as SqlParam[]).push(values[i] as SqlParam);
    }
    const alerts = await sql.transaction(async (tx) => {
      // A row whose tenant was deleted meanwhile is skipped, not a failed batch.
      await tx.query(
        `INSERT INTO usage_events (${COLUMNS.join(', ')})
         SELECT u.* FROM unnest(${COLUMNS.map((_, i) => `$${i + 1}::${TYPES[i]}[]`).join(', ')}) AS u(${COLUMNS.join(', ')})
         WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = u.tenant_id)`,
        cols,
      );
      return deps.quotas ? deps.quotas.account(tx, rows) : [];
    });
    deps.quotas?.afterCommit(alerts);
  }

  async function flush(): Promise<void> {
    if (flushing) return flushing;
    if (buffer.length === 0) return;
    flushing = (async () => {
      while (buffer.length > 0) {
        const rows = buffer.slice(0, BATCH);
        try {
          await write(rows);
        } catch (err) {
          log.warn({ err: (err as Error).message, rows: buffer.length }, 'usage rows not written; kept for the next flush');
          return;
        }
        buffer = buffer.slice(rows.length);
      }
    })().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  return {
    record(e: UsageEvent): void {
      buffer.push(e);
      if (buffer.length > MAX_BUFFERED) {
        dropped += buffer.length - MAX_BUFFERED;
        buffer = buffer.slice(buffer.length - MAX_BUFFERED);
        log.error({ dropped }, 'usage buffer full (SQL unreachable): oldest rows dropped');
      }
      if (buffer.length >= BATCH) void flush();
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
