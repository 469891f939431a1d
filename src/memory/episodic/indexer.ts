import type { Logger } from 'pino';
import type { Embedder } from '../../embeddings/port.js';
import type { JobQueue } from '../../jobs/port.js';
import { createSweeper } from '../../jobs/sweeper.js';
import type { Sql } from '../../store/sql.js';
import type { CollectionSpec, VectorPoint, VectorStore } from '../../vector/port.js';
import type { TurnFields } from '../turns.js';
import { EPISODIC_ROLES, embeddingText, turnCollection } from './collection.js';

/** `embedded_model` of a turn that needs no vector (tool results, empty text). */
const NOT_INDEXED = 'none';
/**
 * A claimed batch not finished by then (a crashed or killed process) is claimed again. A batch
 * embeds in about a second; embedding one twice only costs time (vectors are upserted by id).
 */
const DEFAULT_CLAIM_SECONDS = 60;

interface ClaimedRow {
  id: string;
  tenant_id: string;
  session_id: string;
  user_id: string | null;
  seq: number;
  role: string;
  content: string;
  fields: TurnFields | null;
  created_at: Date | string;
}

export interface TurnIndexerOptions {
  sql: Sql;
  embedder: Embedder;
  vectors: VectorStore;
  /** false for a store that forgets on restart: every turn is re-embedded at start. */
  durable: boolean;
  batchSize: number;
  sweepIntervalMs: number;
  log: Logger;
  /** Indexing runs as jobs of this queue (in whichever process takes them); in-process without one. */
  queue?: JobQueue | undefined;
  /** How long a claimed batch is left to its process before another takes it over (default 60 s). */
  claimSeconds?: number | undefined;
}

/** The job kind that embeds turns not yet in the vector store (one pass over everything waiting). */
export const EMBED_TURNS_JOB = 'embed_turns';

async function claim(sql: Sql, batchSize: number, tenantId: string | null, claimSeconds: number): Promise<ClaimedRow[]> {
  const { rows } = await sql.query<ClaimedRow>(
    `UPDATE messages SET embed_claimed_until = now() + make_interval(secs => $3)
     WHERE id IN (SELECT id FROM messages
                  WHERE embedded_model IS NULL AND (embed_claimed_until IS NULL OR embed_claimed_until < now())
                    AND ($2::text IS NULL OR tenant_id = $2)
                  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id::text AS id, tenant_id, session_id, user_id, seq, role, content, fields, created_at`,
    [batchSize, tenantId, claimSeconds],
  );
  return rows;
}

/** Embeds claimed rows, upserts their vectors and marks them; returns how many got a vector. */
async function indexBatch(deps: { sql: Sql; embedder: Embedder; vectors: VectorStore; spec: CollectionSpec }, rows: ClaimedRow[]): Promise<number> {
  const { sql, embedder, vectors, spec } = deps;
  const wanted = rows.filter((r) => EPISODIC_ROLES.has(r.role) && r.content.trim() !== '');
  const vecs = await embedder.embed(
    wanted.map((r) => embeddingText(r)),
    { kind: 'document' },
  );
  const byTenant = new Map<string, VectorPoint[]>();
  wanted.forEach((r, i) => {
    const points = byTenant.get(r.tenant_id) ?? [];
    points.push({
      id: r.id,
      vector: vecs[i] as Float32Array,
      payload: { session: r.session_id, user: r.user_id ?? '', seq: r.seq, role: r.role, at: new Date(r.created_at).getTime() },
    });
    byTenant.set(r.tenant_id, points);
  });
  for (const [tenantId, points] of byTenant) await vectors.upsert({ collection: spec.name, tenantId, points });
  const skipped = rows.filter((r) => !wanted.includes(r)).map((r) => r.id);
  const { rows: marked } = await sql.query<{ id: string }>(
    `UPDATE messages SET embedded_model = CASE WHEN id = ANY($2::bigint[]) THEN $3 ELSE $1 END, embed_claimed_until = NULL
     WHERE id = ANY($4::bigint[]) RETURNING id::text AS id`,
    [spec.model, skipped, NOT_INDEXED, rows.map((r) => r.id)],
  );
  // Turns deleted while they were being embedded (their session was deleted): their vectors were
  // upserted after the deletion removed the session's others, so remove them now.
  const alive = new Set(marked.map((r) => r.id));
  for (const [tenantId, points] of byTenant) {
    const gone = points.filter((p) => !alive.has(p.id)).map((p) => p.id);
    if (gone.length > 0) await vectors.delete({ collection: spec.name, tenantId, ids: gone });
  }
  return wanted.length;
}

export interface PendingTurnsOptions {
  sql: Sql;
  embedder: Embedder;
  vectors: VectorStore;
  batchSize: number;
  /** Only this tenant's turns (default: every tenant's). */
  tenantId?: string | undefined;
  /** Checked between batches: stop early. */
  isClosed?: () => boolean;
  /** After each batch: turns done (`rows`, tool results and empty turns included) and vectors written. */
  onBatch?: (batch: { rows: number; embedded: number }) => void;
  /** How long a claimed batch is left to its process (default 60 s). */
  claimSeconds?: number | undefined;
}

/**
 * Embeds every turn SQL marks as not embedded (`embedded_model IS NULL`) into the collection, batch
 * by batch, until none is left unclaimed. A failed batch is released for the next try, and the error
 * thrown. The indexer's sweep runs it; so does the reindex command, for one tenant or all.
 */
export async function indexPendingTurns(opts: PendingTurnsOptions): Promise<{ rows: number; embedded: number }> {
  const deps = { sql: opts.sql, embedder: opts.embedder, vectors: opts.vectors, spec: turnCollection(opts.embedder) };
  const done = { rows: 0, embedded: 0 };
  for (;;) {
    if (opts.isClosed?.()) return done;
    const rows = await claim(opts.sql, opts.batchSize, opts.tenantId ?? null, opts.claimSeconds ?? DEFAULT_CLAIM_SECONDS);
    if (rows.length === 0) return done;
    let embedded: number;
    try {
      embedded = await indexBatch(deps, rows);
    } catch (err) {
      await opts.sql.query('UPDATE messages SET embed_claimed_until = NULL WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]).catch(() => undefined);
      throw err;
    }
    done.rows += rows.length;
    done.embedded += embedded;
    opts.onBatch?.({ rows: rows.length, embedded });
  }
}

/**
 * Embeds turns into the vector store off the request path. SQL says what is left to do
 * (`embedded_model IS NULL`), so the work is derived from state: an append wakes the indexer, and a
 * periodic sweep catches whatever a lost wake-up, a crash or another instance left behind. Batches
 * are claimed with SKIP LOCKED, so several gateways share the work without embedding a turn twice.
 */
export function createTurnIndexer(opts: TurnIndexerOptions) {
  const { sql, embedder, vectors, log } = opts;
  const spec = turnCollection(embedder);
  let failures = 0;

  let prepared = false;
  /** Creates the collection and, after a model change or on a forgetful store, marks turns to re-embed. */
  async function prepare(): Promise<void> {
    if (prepared) return;
    await vectors.ensureCollection(spec);
    if (!opts.durable) {
      await sql.query('UPDATE messages SET embedded_model = NULL, embed_claimed_until = NULL WHERE embedded_model IS NOT NULL AND embedded_model <> $1', [
        NOT_INDEXED,
      ]);
    } else {
      await sql.query('UPDATE messages SET embedded_model = NULL WHERE embedded_model IS NOT NULL AND embedded_model NOT IN ($1, $2)', [
        NOT_INDEXED,
        spec.model,
      ]);
    }
    prepared = true;
  }

  /** Embeds until nothing is left. */
  const sweeper = createSweeper({
    intervalMs: opts.sweepIntervalMs,
    queue: opts.queue ? { queue: opts.queue, kind: EMBED_TURNS_JOB } : undefined,
    async work(isClosed) {
      await prepare();
      await indexPendingTurns({
        sql,
        embedder,
        vectors,
        batchSize: opts.batchSize,
        isClosed,
        onBatch: () => {
          failures = 0;
        },
        claimSeconds: opts.claimSeconds,
      });
    },
    onError(err) {
      failures++;
      log.warn({ err: (err as Error).message, failures }, 'turn indexing failed; the sweep retries');
    },
  });

  return {
    collection: spec,

    /**
     * Starts indexing. A vector store that cannot be reached does not stop the gateway: the
     * preparation is retried by each sweep, and retrieval answers from full text meanwhile.
     */
    start: sweeper.start,
    /** New turns exist: index them soon (appends in the same tick share one batch). */
    notify: sweeper.notify,
    /** Runs until every turn stored so far is indexed (tests, evals). */
    drain: sweeper.drain,

    /** Turns of a session not yet embedded. */
    async pending(tenantId: string, sessionId: string): Promise<number> {
      const { rows } = await sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND session_id = $2 AND embedded_model IS NULL',
        [tenantId, sessionId],
      );
      return rows[0]?.n ?? 0;
    },

    /** Forgets a deleted session's vectors. */
    async forgetSession(tenantId: string, sessionId: string): Promise<void> {
      await vectors.deleteByFilter({ collection: spec.name, tenantId, filter: { session: sessionId } });
    },

    close: sweeper.close,
  };
}

export type TurnIndexer = ReturnType<typeof createTurnIndexer>;
