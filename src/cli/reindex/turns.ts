import { setTimeout as sleep } from 'node:timers/promises';
import type { Embedder } from '../../embeddings/port.js';
import { turnCollection } from '../../memory/episodic/collection.js';
import { indexPendingTurns } from '../../memory/episodic/indexer.js';
import type { Sql } from '../../store/sql.js';
import type { VectorStore } from '../../vector/port.js';
import { emptyCollection, type PartOutcome, type PartScope } from './scope.js';

/** Turns marked "to embed" per statement: no single UPDATE holds every row of a large transcript. */
const RESET_PAGE = 10_000;
/** How often the command looks again at turns a running gateway's indexer claimed and is embedding. */
const CLAIMED_POLL_MS = 500;

/**
 * Episodic turn vectors: the collection is emptied, every turn of the scope is marked "to embed"
 * (`embedded_model = NULL`, as a model change does) and embedded by the indexer's own loop. Running
 * gateways' indexers may take some of the batches; the part waits for those to finish, so it ends
 * with every turn that existed when it started embedded.
 */
export async function reembedTurns(deps: { embedder: Embedder; vectors: VectorStore; batchSize: number }, scope: PartScope): Promise<PartOutcome> {
  const { sql, tenantId } = scope;
  const spec = turnCollection(deps.embedder);
  await emptyCollection(deps.vectors, spec, tenantId);
  const { total, lastId } = await markToEmbed(sql, tenantId);
  scope.progress(0, total);
  let done = 0;
  for (;;) {
    await indexPendingTurns({
      sql,
      embedder: deps.embedder,
      vectors: deps.vectors,
      batchSize: deps.batchSize,
      tenantId,
      onBatch: (b) => {
        done += b.rows;
        scope.progress(done, total);
      },
    });
    // Turns another process claimed are waited for; any it released (a failed batch) are claimed next round.
    if ((await waiting(sql, tenantId, lastId)) === 0) break;
    await sleep(CLAIMED_POLL_MS);
  }
  scope.progress(total, total);
  const { rows } = await sql.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM messages WHERE id <= $1::bigint AND embedded_model = $2 AND ($3::text IS NULL OR tenant_id = $3)',
    [lastId, spec.model, tenantId ?? null],
  );
  const vectors = rows[0]?.n ?? 0;
  return { count: total, detail: `turns re-embedded: ${vectors} vectors, ${total - vectors} turns need none (tool results, empty text)` };
}

/** Marks the scope's turns "to embed", page by page; returns how many, and the newest id marked. */
async function markToEmbed(sql: Sql, tenantId: string | undefined): Promise<{ total: number; lastId: string }> {
  let total = 0;
  let after = '0';
  for (;;) {
    const { rows } = await sql.query<{ n: number; last: string | null }>(
      `WITH page AS (SELECT id FROM messages WHERE id > $1::bigint AND ($2::text IS NULL OR tenant_id = $2) ORDER BY id LIMIT ${RESET_PAGE}),
            marked AS (UPDATE messages m SET embedded_model = NULL, embed_claimed_until = NULL FROM page WHERE m.id = page.id RETURNING m.id)
       SELECT (SELECT count(*) FROM marked)::int AS n, (SELECT max(id) FROM page)::text AS last`,
      [after, tenantId ?? null],
    );
    const r = rows[0];
    if (!r?.last) return { total, lastId: after };
    total += r.n;
    after = r.last;
  }
}

/** Turns up to `lastId` still to embed (claimed by another process, or released by it). */
async function waiting(sql: Sql, tenantId: string | undefined, lastId: string): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM messages WHERE embedded_model IS NULL AND id <= $1::bigint AND ($2::text IS NULL OR tenant_id = $2)',
    [lastId, tenantId ?? null],
  );
  return rows[0]?.n ?? 0;
}
