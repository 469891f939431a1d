import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Sql, SqlExecutor, SqlParam } from '../../store/sql.js';
import type { CollectionSpec, Payload, SearchHit, VectorStore } from '../port.js';
import { createTtlMemo } from '../../memo.js';
import { createAnalyzer } from '../../store/analyze.js';
import { createSpecCache } from '../spec-cache.js';
import { checkFilter, checkName, checkSameSpec, checkSpec, checkTenant, checkTopK, checkVector, matchesNothing, preparePoints } from '../validate.js';
import { filterSql, vectorLiteral } from './filter.js';

export interface PgvectorOptions {
  /** The gateway's `Sql` (pg or PGlite); the store creates its tables in that schema. */
  sql: Sql;
}

/**
 * One table per collection (`vec_<name>`), because a `vector(N)` column and its HNSW index need one
 * fixed dimension, collections differ in dimensions (and models), and dropping a collection or
 * re-embedding it is a cheap DROP TABLE instead of a large DELETE. A registry table records each
 * collection's dimensions and model. The tenant is a column leading the primary key (btree), so
 * every query is scoped by an index, and the payload is jsonb with a GIN index for filters.
 */
/** Most points a filtered search ranks exactly; beyond, the HNSW index serves it. */
const EXACT_SCAN_MAX = 20_000;
/** How long "this filter selects few points" is trusted before it is counted again. */
const SIZE_TTL_MS = 10_000;
/**
 * Points per INSERT on PGlite. There the HNSW index is updated on the gateway's own thread (~3 ms a
 * point at 512 dimensions), so a batch of 32 held the event loop for ~100 ms while a document was
 * ingested; in slices of 4, with the loop's turn between them, ~16–20 ms at a time. Measured with a
 * client in another process asking every 50 ms during an ingestion: p99 ~100–118 ms → 26–34 ms
 * (BENCHMARKS.md), for ~25 % longer vector writes (a few % of the ingestion, which is mostly embedding).
 */
const PGLITE_UPSERT_SLICE = 4;
/** pgvector's default `hnsw.ef_search`: searches for more points raise it for their statement. */
const HNSW_EF_SEARCH = 40;

/** A btree per indexed payload key, led by the tenant, so a filtered search reads only its points. */
async function createKeyIndexes(tx: SqlExecutor, t: string, spec: CollectionSpec): Promise<void> {
  const keys = spec.indexedKeys ?? [];
  for (const key of keys) {
    await tx.exec(`CREATE INDEX IF NOT EXISTS ${t}_k_${key} ON ${t} (tenant_id, (payload->>'${key}'))`);
  }
  if (keys.length > 0) {
    await tx.query(
      `UPDATE vector_collections SET indexed_keys = (SELECT jsonb_agg(DISTINCT k) FROM jsonb_array_elements_text(indexed_keys || $2::jsonb) AS k)
       WHERE name = $1`,
      [spec.name, JSON.stringify(keys)],
    );
  }
}

export function createPgvectorStore({ sql }: PgvectorOptions): VectorStore {
  const table = (name: string) => `vec_${name}`;
  let ready: Promise<{ iterative: boolean }> | undefined;
  // Tables are made here rather than by migrations so the store runs on any Sql it is given; the
  // statements are idempotent and run under an advisory lock against concurrent gateways.
  const setup = () => {
    ready ??= sql
      .withLock('vector:setup', async (tx) => {
        // In `public`, which every adapter keeps on the search path: extensions are database-wide.
        await tx.exec('CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public');
        await tx.exec(`CREATE TABLE IF NOT EXISTS vector_collections (
          name text PRIMARY KEY, dimensions int NOT NULL, metric text NOT NULL, model text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now());
          ALTER TABLE vector_collections ADD COLUMN IF NOT EXISTS indexed_keys jsonb NOT NULL DEFAULT '[]'`);
        const { rows } = await tx.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'");
        const [major = 0, minor = 0] = (rows[0]?.v ?? '0.0').split('.').map(Number);
        // Iterative index scans (pgvector 0.8) keep filtered HNSW searches from returning too few rows.
        return { iterative: major > 0 || minor >= 8 };
      })
      .catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
    return ready;
  };

  const load = async (db: SqlExecutor, name: string): Promise<CollectionSpec | null> => {
    const { rows } = await db.query<CollectionSpec & { indexed_keys: string[] }>(
      'SELECT name, dimensions, metric, model, indexed_keys FROM vector_collections WHERE name = $1',
      [name],
    );
    const r = rows[0];
    if (!r) return null;
    const { indexed_keys, ...spec } = r;
    return indexed_keys.length > 0 ? { ...spec, indexedKeys: indexed_keys } : spec;
  };
  const specs = createSpecCache(async (name) => {
    await setup();
    return load(sql, name);
  });

  const analyzer = createAnalyzer(sql);
  // Whether a filter selects few enough points to rank them exactly, remembered for a while per
  // table, tenant and filter (counting up to the limit through the btree costs a few ms).
  const sizes = createTtlMemo<boolean>(SIZE_TTL_MS);
  const smallEnough = (t: string, tenantId: string, filter: object, where: string, params: SqlParam[]): Promise<boolean> =>
    sizes.get(`${t}\u0000${tenantId}\u0000${JSON.stringify(filter)}`, () =>
      // The filter's parameters follow the tenant ($1); $2 and $3 (vector, topK) are unused here but keep the numbering.
      sql
        .query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${t} WHERE tenant_id = $1 AND ${where} AND $2::text IS NOT NULL AND $3::int > 0 LIMIT ${EXACT_SCAN_MAX + 1}) s`, params)
        .then((r) => (r.rows[0]?.n ?? 0) <= EXACT_SCAN_MAX),
    );

  const scoped = async (collection: string, tenantId: string) => {
    checkTenant(tenantId);
    const spec = await specs.get(collection);
    return { spec, t: table(spec.name) };
  };

  return {
    kind: 'pgvector',
    async ensureCollection(spec) {
      checkSpec(spec);
      await setup();
      const created = await sql.withLock(`vector:${spec.name}`, async (tx) => {
        const existing = await load(tx, spec.name);
        const t = table(spec.name);
        if (existing) {
          checkSameSpec(existing, spec);
          await createKeyIndexes(tx, t, spec);
          return false;
        }
        await tx.exec(`CREATE TABLE IF NOT EXISTS ${t} (
            tenant_id text NOT NULL, id text NOT NULL, embedding vector(${spec.dimensions}) NOT NULL,
            payload jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, id));
          CREATE INDEX IF NOT EXISTS ${t}_hnsw ON ${t} USING hnsw (embedding vector_cosine_ops);
          CREATE INDEX IF NOT EXISTS ${t}_payload ON ${t} USING gin (payload jsonb_path_ops);`);
        await tx.query('INSERT INTO vector_collections (name, dimensions, metric, model) VALUES ($1, $2, $3, $4)', [
          spec.name,
          spec.dimensions,
          spec.metric,
          spec.model,
        ]);
        await createKeyIndexes(tx, t, spec);
        return true;
      });
      specs.set((await load(sql, spec.name)) ?? spec);
      return { created };
    },
    async getCollection({ name }) {
      await setup();
      return load(sql, name);
    },
    async dropCollection({ name }) {
      checkName(name);
      await setup();
      specs.forget(name);
      await sql.withLock(`vector:${name}`, async (tx) => {
        await tx.exec(`DROP TABLE IF EXISTS ${table(name)}`);
        await tx.query('DELETE FROM vector_collections WHERE name = $1', [name]);
      });
    },
    async upsert({ collection, tenantId, points }) {
      const { spec, t } = await scoped(collection, tenantId);
      const batch = preparePoints(collection, spec, points);
      if (batch.length === 0) return;
      // One statement per slice (the whole batch on a server), one round trip however many points.
      const slice = sql.kind === 'pglite' ? PGLITE_UPSERT_SLICE : batch.length;
      for (let from = 0; from < batch.length; from += slice) {
        if (from > 0) await yieldToLoop();
        const part = batch.slice(from, from + slice);
        await sql.query(
          `INSERT INTO ${t} (tenant_id, id, embedding, payload)
           SELECT $1, u.id, u.v::vector, u.p::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, v, p)
           ON CONFLICT (tenant_id, id) DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload, updated_at = now()`,
          [tenantId, part.map((p) => p.id), part.map((p) => vectorLiteral(p.vector)), part.map((p) => JSON.stringify(p.payload))],
        );
      }
      analyzer.wrote(t, batch.length);
    },
    async delete({ collection, tenantId, ids }) {
      const { t } = await scoped(collection, tenantId);
      if (ids.length === 0) return;
      await sql.query(`DELETE FROM ${t} WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenantId, [...ids]]);
    },
    async deleteByFilter({ collection, tenantId, filter }) {
      const { t } = await scoped(collection, tenantId);
      checkFilter(filter);
      if (matchesNothing(filter)) return;
      const params: SqlParam[] = [tenantId];
      await sql.query(`DELETE FROM ${t} WHERE tenant_id = $1 AND ${filterSql(filter, params)}`, params);
    },
    async search({ collection, tenantId, vector, topK, filter }) {
      const { spec, t } = await scoped(collection, tenantId);
      checkVector(collection, spec.dimensions, vector);
      checkTopK(topK);
      checkFilter(filter);
      if (matchesNothing(filter)) return [];
      const params: SqlParam[] = [tenantId, vectorLiteral(vector), topK];
      const indexed = new Set(spec.indexedKeys ?? []);
      const where = filterSql(filter, params, indexed);
      const { iterative } = await setup();
      if (filter && Object.keys(filter).some((k) => indexed.has(k)) && (await smallEnough(t, tenantId, filter, where, params))) {
        // Filtered on an indexed key, with few enough points: found by the btree and ranked exactly.
        // The order is by an expression the HNSW index cannot serve (the distance plus 0), so the
        // planner cannot pick that index and filter its first ef_search candidates down to fewer than
        // topK (checked with EXPLAIN at 30k points: the btree's bitmap scan and a sort, as before). One
        // statement, where a transaction turned index scans off: 4.5 → 2.5 ms p50 for 7,500 of 30,000 points.
        const { rows } = await sql.query<{ id: string; score: number; payload: Payload }>(
          `SELECT id, 1 - (embedding <=> $2::vector) AS score, payload FROM ${t}
           WHERE tenant_id = $1 AND ${where} ORDER BY (embedding <=> $2::vector) + 0 LIMIT $3`,
          params,
        );
        return rows.map((r): SearchHit => ({ id: r.id, score: Number(r.score), payload: r.payload }));
      }
      // ORDER BY the distance alone, or the HNSW index cannot serve it. The tenant and payload filters
      // apply after the HNSW scan; iterative scanning (pgvector 0.8) continues the scan until topK rows
      // pass them, instead of returning whatever survived the first ef_search candidates, and the
      // candidate list must hold at least topK points (pgvector's default is 40).
      //
      // Both settings are made by the statement itself, for its own implicit transaction: the
      // condition holds no column, so Postgres runs it once, as a gate, before the index scan starts
      // (and the scan reads the settings when it starts). One round trip instead of five (a pooled
      // connection, BEGIN, two SETs, COMMIT): measured alone at 100k points, 2.9–3.4 → 2.2 ms p50 and
      // 6.5–7.0 → 3.0–3.6 ms p95.
      params.push(String(Math.min(Math.max(topK, HNSW_EF_SEARCH), 1000)));
      const settings = [`set_config('hnsw.ef_search', $${params.length}, true)`];
      if (iterative) settings.push("set_config('hnsw.iterative_scan', 'strict_order', true)");
      const { rows } = await sql.query<{ id: string; score: number; payload: Payload }>(
        `SELECT id, 1 - (embedding <=> $2::vector) AS score, payload FROM ${t}
         WHERE (SELECT ${settings.join(' || ')}) IS NOT NULL AND tenant_id = $1 AND ${where}
         ORDER BY embedding <=> $2::vector LIMIT $3`,
        params,
      );
      return rows.map((r): SearchHit => ({ id: r.id, score: Number(r.score), payload: r.payload }));
    },
    async count({ collection, tenantId, filter }) {
      const { t } = await scoped(collection, tenantId);
      checkFilter(filter);
      if (matchesNothing(filter)) return 0;
      const params: SqlParam[] = [tenantId];
      const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE tenant_id = $1 AND ${filterSql(filter, params)}`, params);
      return rows[0]?.n ?? 0;
    },
    async close() {
      // The Sql belongs to the caller (the gateway shares one); closing it is the caller's job.
    },
  };
}
