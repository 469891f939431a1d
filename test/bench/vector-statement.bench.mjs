#!/usr/bin/env node
/**
 * pgvector search: the adapter's one statement against the transaction it replaced, side by side.
 *
 *   npm run build && node test/bench/vector-statement.bench.mjs [--points 50000] [--queries 300] [--rounds 3]
 *        [--database-url postgres://postgres@127.0.0.1:5432/test]   (needs the pgvector extension)
 *
 * Loads `--points` random 512-dimension points (one tenant, a `collection` payload key indexed, as
 * the document store does) through the gateway's pgvector adapter, builds the HNSW index, then asks
 * the same `--queries` vectors for 72 points (top_k 8 in a hybrid search) filtered by collection:
 *  - adapter: `VectorStore.search`, which makes its HNSW settings (`hnsw.ef_search`,
 *    `hnsw.iterative_scan`) inside the statement — one round trip;
 *  - transaction: a pooled connection, BEGIN, the two settings with `set_config(…, true)`, the same
 *    SELECT, COMMIT — what the adapter did until 2026-11-30 (five round trips);
 * interleaved in `--rounds`, closed loop (c=1). Both must return the same ids. The schema is dropped at the end.
 * Up to 20,000 points the adapter ranks a filtered search exactly instead (no HNSW): use more.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { argValue, fromDist } from './lib/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => argValue(args, name, dflt);
const POINTS = Number(opt('points', '50000'));
const QUERIES = Number(opt('queries', '300'));
const ROUNDS = Number(opt('rounds', '3'));
const URL_ = opt('database-url', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const DIMS = 512;
const TOP = 72;
if (POINTS <= 20_000) console.error('note: up to 20,000 points a filtered search is ranked exactly by the adapter, not through HNSW; the two sides then differ');

const { createPgSql } = await fromDist('src/store/pg/adapter.js');
const { createPgvectorStore } = await fromDist('src/vector/pgvector/adapter.js');

let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
};
const unit = () => {
  const v = Float32Array.from({ length: DIMS }, () => rand() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

const schema = `bench_vs_${randomBytes(4).toString('hex')}`;
const sql = await createPgSql({ url: URL_, schema, poolSize: 4 });
const raw = new pg.Pool({ connectionString: URL_, max: 2, options: `-c search_path=${schema},public` });
try {
  const store = createPgvectorStore({ sql });
  const name = 'bench_points';
  await store.ensureCollection({ name, dimensions: DIMS, metric: 'cosine', model: 'random', indexedKeys: ['collection'] });
  const started = performance.now();
  for (let i = 0; i < POINTS; i += 1000) {
    const points = Array.from({ length: Math.min(1000, POINTS - i) }, (_, j) => ({
      id: `p${i + j}`,
      vector: unit(),
      payload: { collection: 'col_a', chunk: `c${i + j}` },
    }));
    await store.upsert({ collection: name, tenantId: 't1', points });
  }
  console.error(`${POINTS} points written and indexed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  await raw.query('VACUUM ANALYZE vec_bench_points');

  const queries = Array.from({ length: QUERIES }, unit);
  const literal = (v) => `[${Array.from(v).join(',')}]`;
  const viaAdapter = async (v) =>
    (await store.search({ collection: name, tenantId: 't1', vector: v, topK: TOP, filter: { collection: { in: ['col_a'] } } })).map((h) => h.id);
  const viaTransaction = async (v) => {
    const c = await raw.connect();
    try {
      await c.query('BEGIN');
      await c.query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)");
      await c.query("SELECT set_config('hnsw.ef_search', $1, true)", [String(TOP)]);
      const r = await c.query(
        `SELECT id, 1 - (embedding <=> $2::vector) AS score, payload FROM vec_bench_points
         WHERE tenant_id = $1 AND (payload->>'collection') = ANY($4::text[]) ORDER BY embedding <=> $2::vector LIMIT $3`,
        ['t1', literal(v), TOP, ['col_a']],
      );
      await c.query('COMMIT');
      return r.rows.map((x) => x.id);
    } finally {
      c.release();
    }
  };

  // Warm both (caches, prepared plans), and check they answer alike.
  let differ = 0;
  for (const v of queries.slice(0, 50)) if ((await viaAdapter(v)).join() !== (await viaTransaction(v)).join()) differ++;
  const times = { adapter: [], transaction: [] };
  for (let r = 0; r < ROUNDS; r++)
    for (const [label, fn] of r % 2
      ? [
          ['transaction', viaTransaction],
          ['adapter', viaAdapter],
        ]
      : [
          ['adapter', viaAdapter],
          ['transaction', viaTransaction],
        ])
      for (const v of queries) {
        const t = performance.now();
        await fn(v);
        times[label].push(performance.now() - t);
      }
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)].toFixed(2);
  const rows = Object.entries(times).map(([label, xs]) => `| ${label} | ${pct(xs, 0.5)} | ${pct(xs, 0.95)} | ${pct(xs, 0.99)} |`);
  console.log(
    [
      `pgvector search over ${POINTS} points (512 dimensions, HNSW), ${TOP} points asked for, filtered by an indexed key; ${QUERIES} queries × ${ROUNDS} rounds, c=1, interleaved`,
      '',
      '| statement | p50 ms | p95 ms | p99 ms |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
      `Result lists that differ between the two (first 50 queries): ${differ}.`,
      '',
      `\`node test/bench/vector-statement.bench.mjs ${args.join(' ')}\``.replace(/ `$/, '`'),
    ].join('\n'),
  );
} finally {
  await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await raw.end();
  await sql.close();
}
