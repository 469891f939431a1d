import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { createEmbedder } from '../../embeddings/factory.js';
import type { Embedder } from '../../embeddings/port.js';
import { createMemoryStore } from '../../memory/facts/store.js';
import { createRedisShortTermStore } from '../../memory/short-term/redis.js';
import { migrate } from '../../store/migrate.js';
import { openSql } from '../../store/open.js';
import type { Sql } from '../../store/sql.js';
import { createVectorStore } from '../../vector/factory.js';
import type { VectorStore } from '../../vector/port.js';
import { reembedChunks } from './chunks.js';
import { rewriteFacts } from './facts.js';
import type { PartOutcome, PartScope } from './scope.js';
import { reembedTurns } from './turns.js';

/** What a reindex can rebuild, in the order it does. */
export const PARTS = ['redis', 'turns', 'chunks', 'facts'] as const;
export type Part = (typeof PARTS)[number];

export type PartResult = { part: Part; ms: number } & (
  | ({ status: 'done' } & PartOutcome)
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; error: string }
);

export interface ReindexOptions {
  config: Config;
  log: Logger;
  parts: readonly Part[];
  /** Only this tenant's hot copies and vectors. */
  tenantId?: string | undefined;
  /** Progress of the part running: items done, and the total when known. */
  onProgress?: (part: Part, done: number, total: number | undefined) => void;
  /** A part began (with nothing counted yet) or ended. */
  onPart?: (event: { part: Part; result?: PartResult }) => void;
}

/** The tenant given does not exist: a usage error, found once SQL is open. */
export class UnknownTenantError extends Error {}

/** A part that has nothing to rebuild in this deployment, and says why. */
class Skip extends Error {}

/** Credentials are never printed: `redis://:secret@host:6379/0` is shown as `redis://host:6379`. */
const hostOf = (url: string): string => {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the configured URL';
  }
};

/**
 * Rebuilds what is derived from SQL — the Redis hot copies and the vector collections — against the
 * configured database, Redis and vector stores, in this process. Migrations are applied first. Each
 * part runs even when an earlier one failed; every adapter is closed even when a close fails.
 */
export async function reindex(opts: ReindexOptions): Promise<PartResult[]> {
  const { config, log, tenantId } = opts;
  const closers: Array<() => Promise<void>> = [];
  try {
    let sql: Sql;
    try {
      sql = await openSql(config.database);
    } catch (err) {
      throw new Error(`cannot open the database: ${(err as Error).message}`);
    }
    closers.push(() => sql.close());
    await migrate(sql);
    if (tenantId !== undefined) {
      const { rows } = await sql.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
      if (rows.length === 0) throw new UnknownTenantError(`no tenant with id "${tenantId}"`);
    }

    // Built on first use: a run of `--only redis` never loads the model nor reaches a vector store.
    let embedder: Promise<Embedder> | undefined;
    const embed = () => {
      embedder ??= createEmbedder({ ...config.embeddings, lazy: true }).then((e) => {
        closers.push(() => e.close());
        return e;
      });
      return embedder;
    };
    const stores = new Map<'memories' | 'documents', Promise<VectorStore>>();
    const vectorsFor = (use: 'memories' | 'documents') => {
      let store = stores.get(use);
      if (!store) {
        store = createVectorStore(config.vector, use, sql, log).then(({ store: s, durable }) => {
          closers.push(() => s.close());
          if (!durable) {
            throw new Skip('the vector store is in memory (vector.kind memory, or auto without pgvector): each gateway embeds again from SQL when it starts');
          }
          return s;
        });
        stores.set(use, store);
      }
      return store;
    };

    const rebuild: Record<Part, (scope: PartScope) => Promise<PartOutcome>> = {
      async redis(scope) {
        const url = config.redis.url;
        if (!url) throw new Skip('no Redis configured (redis.url): sessions are read from SQL');
        const hot = await createRedisShortTermStore({
          url,
          keyPrefix: config.redis.keyPrefix,
          maxTurns: config.session.hotTurns,
          commandTimeoutMs: config.redis.commandTimeoutMs,
        });
        closers.push(() => hot.close());
        await hot.ping().catch((err: unknown) => {
          throw new Error(`cannot reach Redis at ${hostOf(url)} (${(err as Error).message})`);
        });
        // Dropped, not refilled: a reader compares a copy with SQL and rebuilds it on a miss
        // (session-memory.ts), so filling every session now would only load idle ones the TTL dropped.
        const dropped = await hot.dropAll({ tenantId, onBatch: (n) => scope.progress(n) });
        return { count: dropped, detail: 'hot-copy keys dropped (each session is read from SQL and copied again on its next request)' };
      },
      async turns(scope) {
        if (!config.memory.episodic.enabled) throw new Skip('memory.episodic.enabled is false: turns are not embedded');
        const vectors = await vectorsFor('memories');
        return reembedTurns({ embedder: await embed(), vectors, batchSize: config.memory.episodic.batchSize }, scope);
      },
      async chunks(scope) {
        const vectors = await vectorsFor('documents');
        return reembedChunks({ embedder: await embed(), vectors }, scope);
      },
      async facts(scope) {
        const vectors = await vectorsFor('memories');
        return rewriteFacts({ store: createMemoryStore(sql), vectors, embedder: await embed(), log }, scope);
      },
    };

    const results: PartResult[] = [];
    for (const part of PARTS) {
      if (!opts.parts.includes(part)) continue;
      opts.onPart?.({ part });
      const started = Date.now();
      const scope: PartScope = { sql, tenantId, progress: (done, total) => opts.onProgress?.(part, done, total) };
      let result: PartResult;
      try {
        result = { part, status: 'done', ...(await rebuild[part](scope)), ms: Date.now() - started };
      } catch (err) {
        const ms = Date.now() - started;
        result = err instanceof Skip ? { part, status: 'skipped', reason: err.message, ms } : { part, status: 'failed', error: (err as Error).message, ms };
      }
      results.push(result);
      opts.onPart?.({ part, result });
    }
    return results;
  } finally {
    // Newest first (the embedder and stores before SQL); each runs even when another fails.
    for (const close of closers.reverse()) await close().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'reindex: a close failed'));
  }
}
