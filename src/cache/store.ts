import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { throttledWarn } from '../observability/logger.js';
import type { ChatCompletion } from '../providers/types.js';
import type { Sql, SqlParam } from '../store/sql.js';

/** A cached answer and what it was built from. */
export interface CacheEntry {
  tenantId: string;
  id: string;
  alias: string;
  scope: string;
  /** The last user message it answers. */
  query: string;
  response: ChatCompletion;
  promptTokens: number;
  completionTokens: number;
  /** Knowledge collections, user and session whose data went into the prompt. */
  collections: readonly string[];
  userId: string | null;
  sessionId: string | null;
  /** Milliseconds since the epoch. */
  createdAt: number;
  expiresAt: number;
}

/** One row of the admin listing: an entry without its answer. */
export interface CacheEntryInfo {
  tenant_id: string;
  id: string;
  alias: string;
  query: string;
  hits: number;
  prompt_tokens: number;
  completion_tokens: number;
  created_at: string;
  expires_at: string;
  last_hit_at: string | null;
}

/** Which entries a purge or an invalidation removes; every field given must match. */
export interface EntryFilter {
  tenantId?: string | undefined;
  alias?: string | undefined;
  id?: string | undefined;
  collectionId?: string | undefined;
  userId?: string | undefined;
  sessionId?: string | undefined;
  /** Entries that expired before now. */
  expired?: boolean;
}

const HIT_FLUSH_MS = 1000;
/** Redis keys removed per UNLINK. */
const UNLINK_BATCH = 500;

/**
 * Cache entries: SQL is the truth, and Redis (when configured) a hot copy under the same expiry,
 * so an exact hit is one Redis GET. A Redis miss is checked in SQL and refilled (a restarted Redis
 * costs one SQL read per entry); Redis down makes lookups read SQL, never fail. Hit counts are
 * added up in memory and written once a second.
 */
export function createCacheStore(deps: { sql: Sql; redis?: { url: string; keyPrefix: string; commandTimeoutMs: number } | undefined; log: Logger }) {
  const { sql } = deps;
  const redis = deps.redis
    ? new Redis(deps.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: deps.redis.commandTimeoutMs, connectTimeout: 2000 })
    : undefined;
  // Errors surface on each command; the connection keeps retrying in the background.
  redis?.on('error', () => {});
  const prefix = deps.redis?.keyPrefix ?? '';
  const redisKey = (tenantId: string, id: string): string => `${prefix}cache:{${tenantId}}:${id}`;
  const redisFailed = throttledWarn(deps.log, 'cache: Redis failed; reading SQL');
  const hits = new Map<string, number>();
  let flushing: Promise<void> | undefined;
  const timer = setInterval(() => void flushHits(), HIT_FLUSH_MS);
  timer.unref();

  async function fromSql(tenantId: string, id: string): Promise<CacheEntry | undefined> {
    const { rows } = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM cache_entries WHERE tenant_id = $1 AND id = $2 AND expires_at > now()`,
      [tenantId, id],
      { prepare: 'cache_get' },
    );
    return rows[0] && toEntry(rows[0]);
  }

  async function copy(entry: CacheEntry): Promise<void> {
    const ttl = entry.expiresAt - Date.now();
    if (!redis || ttl <= 0) return;
    await redis.set(redisKey(entry.tenantId, entry.id), JSON.stringify(entry), 'PX', ttl);
  }

  async function flushHits(): Promise<void> {
    if (hits.size === 0 || flushing) return flushing;
    const batch = [...hits];
    hits.clear();
    const tenants: string[] = [];
    const ids: string[] = [];
    const counts: number[] = [];
    for (const [k, n] of batch) {
      const i = k.indexOf('\u0000');
      tenants.push(k.slice(0, i));
      ids.push(k.slice(i + 1));
      counts.push(n);
    }
    flushing = sql
      .query(
        `UPDATE cache_entries c SET hits = c.hits + v.n, last_hit_at = now()
           FROM (SELECT unnest($1::text[]) AS t, unnest($2::text[]) AS i, unnest($3::int[]) AS n) v
          WHERE c.tenant_id = v.t AND c.id = v.i`,
        [tenants, ids, counts],
      )
      .then(
        () => undefined,
        (err: unknown) => deps.log.warn({ err: (err as Error).message, entries: batch.length }, 'cache: hit counts not written'),
      )
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  }

  return {
    /** The live entry `id` of the tenant, or undefined. Throws only when SQL fails. */
    async get(tenantId: string, id: string): Promise<CacheEntry | undefined> {
      if (redis) {
        try {
          const raw = await redis.get(redisKey(tenantId, id));
          if (raw !== null) {
            const entry = JSON.parse(raw) as CacheEntry;
            if (entry.expiresAt > Date.now()) return entry;
          }
        } catch (err) {
          redisFailed({ err: (err as Error).message });
          return fromSql(tenantId, id);
        }
      }
      const entry = await fromSql(tenantId, id);
      if (entry && redis) copy(entry).catch((err: unknown) => redisFailed({ err: (err as Error).message }));
      return entry;
    },

    /** Writes (or overwrites) an entry: SQL first, then the Redis copy (a failing copy is only logged). */
    async put(entry: CacheEntry): Promise<void> {
      await sql.query(
        `INSERT INTO cache_entries (tenant_id, id, alias, scope, query, response, prompt_tokens, completion_tokens, collections, user_id, session_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, to_timestamp($12::double precision / 1000), to_timestamp($13::double precision / 1000))
         ON CONFLICT (tenant_id, id) DO UPDATE SET alias = excluded.alias, scope = excluded.scope, query = excluded.query, response = excluded.response,
           prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens, collections = excluded.collections,
           user_id = excluded.user_id, session_id = excluded.session_id, created_at = excluded.created_at, expires_at = excluded.expires_at`,
        [
          entry.tenantId,
          entry.id,
          entry.alias,
          entry.scope,
          entry.query,
          JSON.stringify(entry.response),
          entry.promptTokens,
          entry.completionTokens,
          [...entry.collections],
          entry.userId,
          entry.sessionId,
          entry.createdAt,
          entry.expiresAt,
        ],
      );
      await copy(entry).catch((err: unknown) => redisFailed({ err: (err as Error).message }));
    },

    /**
     * Whether any live entry shares `scope`: a semantic lookup in a scope without one would find
     * nothing, so it is skipped, with the embedding it needs. Throws when SQL fails.
     */
    async hasScope(tenantId: string, scope: string): Promise<boolean> {
      const { rows } = await sql.query<{ ok: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM cache_entries WHERE tenant_id = $1 AND scope = $2 AND expires_at > now()) AS ok',
        [tenantId, scope],
        { prepare: 'cache_scope' },
      );
      return rows[0]?.ok === true;
    },

    recordHit(tenantId: string, id: string): void {
      const k = `${tenantId}\u0000${id}`;
      hits.set(k, (hits.get(k) ?? 0) + 1);
    },

    /** Deletes the entries that match, in SQL and Redis, and returns them (their vectors go next). */
    async remove(filter: EntryFilter & { limit?: number }): Promise<Array<{ tenantId: string; id: string }>> {
      const { where, params } = whereOf(filter);
      const match = filter.limit === undefined ? where : `(tenant_id, id) IN (SELECT tenant_id, id FROM cache_entries WHERE ${where} LIMIT ${Math.trunc(filter.limit)})`;
      const { rows } = await sql.query<{ tenant_id: string; id: string }>(`DELETE FROM cache_entries WHERE ${match} RETURNING tenant_id, id`, params);
      const removed = rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
      if (redis) {
        for (let i = 0; i < removed.length; i += UNLINK_BATCH) {
          const keys = removed.slice(i, i + UNLINK_BATCH).map((r) => redisKey(r.tenantId, r.id));
          // A copy left behind (Redis down) expires with its entry; until then a lookup reads it,
          // so a failure here is reported to the caller.
          await redis.unlink(...keys);
        }
      }
      return removed;
    },

    /** Entries with the most hits first. */
    async top(filter: EntryFilter, limit: number): Promise<CacheEntryInfo[]> {
      await flushHits();
      const { where, params } = whereOf({ ...filter, expired: false });
      const { rows } = await sql.query<CacheEntryInfo>(
        `SELECT tenant_id, id, alias, query, hits::int AS hits, prompt_tokens, completion_tokens, created_at, expires_at, last_hit_at
           FROM cache_entries WHERE ${where} ORDER BY hits DESC, created_at DESC LIMIT ${Math.trunc(limit)}`,
        params,
      );
      return rows.map((r) => ({ ...r, created_at: iso(r.created_at), expires_at: iso(r.expires_at), last_hit_at: r.last_hit_at === null ? null : iso(r.last_hit_at) }));
    },

    flushHits,

    async close(): Promise<void> {
      clearInterval(timer);
      await flushHits();
      redis?.disconnect();
    },
  };
}

export type CacheStore = ReturnType<typeof createCacheStore>;

interface Row {
  tenant_id: string;
  id: string;
  alias: string;
  scope: string;
  query: string;
  response: ChatCompletion | string;
  prompt_tokens: number;
  completion_tokens: number;
  collections: string[];
  user_id: string | null;
  session_id: string | null;
  created_ms: number | string;
  expires_ms: number | string;
}

const COLUMNS = `tenant_id, id, alias, scope, query, response, prompt_tokens, completion_tokens, collections, user_id, session_id,
  (extract(epoch FROM created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms`;

function toEntry(r: Row): CacheEntry {
  return {
    tenantId: r.tenant_id,
    id: r.id,
    alias: r.alias,
    scope: r.scope,
    query: r.query,
    response: typeof r.response === 'string' ? (JSON.parse(r.response) as ChatCompletion) : r.response,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
    collections: r.collections,
    userId: r.user_id,
    sessionId: r.session_id,
    createdAt: Math.round(Number(r.created_ms)),
    expiresAt: Math.round(Number(r.expires_ms)),
  };
}

function whereOf(f: EntryFilter): { where: string; params: SqlParam[] } {
  const conds: string[] = [];
  const params: SqlParam[] = [];
  const add = (sqlText: (n: string) => string, value: SqlParam): void => {
    params.push(value);
    conds.push(sqlText(`$${params.length}`));
  };
  if (f.tenantId !== undefined) add((p) => `tenant_id = ${p}`, f.tenantId);
  if (f.alias !== undefined) add((p) => `alias = ${p}`, f.alias);
  if (f.id !== undefined) add((p) => `id = ${p}`, f.id);
  if (f.collectionId !== undefined) add((p) => `collections @> ARRAY[${p}::text]`, f.collectionId);
  if (f.userId !== undefined) add((p) => `user_id = ${p}`, f.userId);
  if (f.sessionId !== undefined) add((p) => `session_id = ${p}`, f.sessionId);
  if (f.expired === true) conds.push('expires_at <= now()');
  if (f.expired === false) conds.push('expires_at > now()');
  return { where: conds.length > 0 ? conds.join(' AND ') : 'true', params };
}

function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}
