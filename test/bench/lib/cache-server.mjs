#!/usr/bin/env node
// The cache bench's gateway process: the BUILT gateway (dist/) on the embedded default — PGlite in
// `dataDir`, pgvector (vector kind auto), USE-lite embeddings — optionally with Redis, listening on
// 127.0.0.1:0, driven by the bench over IPC (started with child_process.fork):
//   → { type: 'ready', url, pid }                       once it listens
//   ← { id, cmd: 'seed', tenantId, corpusFile }         seeds the response cache (see seed())
//   ← { id, cmd: 'prefilter', candidates }              which paraphrases find their own entry first
//   ← { id, cmd: 'diag', tenantId, scope, paraphrases, exactIds }   a semantic hit's parts, timed alone
//   ← { id, cmd: 'close' }                              closes the gateway and exits
//   → { id, ok, result | error }
// Its configuration comes as JSON in CACHE_BENCH_SERVER: { distDir?, dataDir, redisUrl?, redisPrefix?,
// upstreamUrl, adminKey, alias, upstreamModel, ttlSeconds }. Logs (warn and up) go to stderr.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const opts = JSON.parse(process.env.CACHE_BENCH_SERVER ?? '{}');
// The bench's private copy of dist/ (a build by someone else during the run must not change the code
// between the seed and the variants), else the repository's.
const distDir = opts.distDir ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist');
const dist = (p) => import(pathToFileURL(join(distDir, p)).href);
const now = () => performance.now();
const log = (...a) => console.error(`[cache-server ${new Date().toISOString().slice(11, 19)}]`, ...a);

const { loadConfig } = await dist('src/config/load.js');
const { createGateway } = await dist('src/gateway.js');
const { cacheKey } = await dist('src/cache/key.js');
const { createVectorStore } = await dist('src/vector/factory.js');
const pino = (await import('pino')).default;

// No environment variables: only what the bench asks for (a DATABASE_URL in the shell must not apply).
const config = loadConfig(
  {},
  {
    server: { host: '127.0.0.1', port: 0 },
    database: { dataDir: opts.dataDir },
    ...(opts.redisUrl ? { redis: { url: opts.redisUrl, keyPrefix: opts.redisPrefix } } : {}),
    auth: { adminApiKey: opts.adminKey },
    providers: { fake: { kind: 'openai', baseUrl: `${opts.upstreamUrl}/v1`, apiKey: 'bench-unused-key' } },
    models: { [opts.alias]: { targets: [{ provider: 'fake', model: opts.upstreamModel }] } },
    cache: { enabled: true, ttlSeconds: opts.ttlSeconds },
    log: { level: 'warn' },
  },
);
const logger = pino({ level: 'warn' }, pino.destination(2));
const gateway = await createGateway(config, logger);
const { sql, embedder, cache } = gateway.deps;
// A second handle on the cache's vector collection (the same pgvector adapter the gateway builds for
// it, on the same Sql): the gateway keeps its own private.
const vectors = (await createVectorStore(config.vector, 'cache', sql, logger)).store;
const vecTable = `vec_${cache.spec.name}`;
const redis = opts.redisUrl ? new (await import('ioredis')).Redis(opts.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
const redisKey = (tenantId, id) => `${opts.redisPrefix}cache:{${tenantId}}:${id}`; // as src/cache/store.ts names them

const server = createServer(gateway.app);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));

/** Base vectors of the last seed, kept for `prefilter`. */
let baseVectors = [];

/** The key the chat route computes for a stateless `{model: alias, messages: [{role: 'user', content: text}]}`. */
function keyOf(text) {
  const body = { model: opts.alias, messages: [{ role: 'user', content: text }] };
  const k = cacheKey(opts.alias, body, { sessionId: undefined, userId: undefined }, config.cache.maxSemanticChars);
  if ('skip' in k) throw new Error(`not cacheable: ${k.skip}`);
  return k;
}

// ————— seeding —————

/** A deterministic PRNG (mulberry32): uniform in [0, 1). */
function uniform(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normals (Box–Muller) from a seeded uniform. */
function rng(seed) {
  const next = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next());
}

/** `base` plus gaussian noise of `sigma` per dimension, renormalised. */
function noisy(base, sigma, gauss) {
  const v = new Float32Array(base.length);
  let n = 0;
  for (let i = 0; i < base.length; i++) {
    v[i] = base[i] + sigma * gauss();
    n += v[i] * v[i];
  }
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

const dot = (a, b) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * Seeds `texts.length` entries into one tenant and one scope, as the chat route would have stored
 * them for stateless requests `{model: alias, messages: [{role: 'user', content: text}]}`:
 *  - ids and scope from the built `cacheKey` (the same call cache.lookup makes);
 *  - rows in cache_entries with put()'s columns, many per statement, in one transaction; the Redis
 *    copy (the JSON put() writes, same key and expiry) through pipelines;
 *  - vectors in the cache collection through the pgvector adapter's upsert (payload { scope }, point
 *    id = entry id): the first `base` texts with their real embeddings (the gateway's embedder), the
 *    others (`fill`) either 'mix', the midpoint of their base's vector (i mod base) and another
 *    random base's, plus a little noise, or 'noise', their base's vector with isotropic gaussian
 *    noise to cosine ≈ `noiseCos`; both below the threshold to a paraphrase of a real entry;
 *  - the HNSW index dropped during the inserts and built once at the end, then ANALYZE.
 */
async function seed({ tenantId, corpusFile }) {
  const { texts, base, answer, noiseCos, fill = 'noise', rowsPerStatement = 2000, vectorsPerUpsert = 1000 } = JSON.parse(readFileSync(corpusFile, 'utf8'));
  const t = {};
  const lap = (name, t0) => {
    t[name] = Math.round(now() - t0) / 1000;
  };
  let t0 = now();
  const keys = texts.map(keyOf);
  const scope = keys[0].scope;
  if (keys.some((k) => k.scope !== scope)) throw new Error('seeded entries have more than one scope');
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('two seeded texts have the same key');
  lap('keys_s', t0);

  const createdAt = Date.now();
  const expiresAt = createdAt + opts.ttlSeconds * 1000;
  const completion = (i) => ({
    id: `chatcmpl-seed-${i}`,
    object: 'chat.completion',
    created: Math.floor(createdAt / 1000),
    model: opts.upstreamModel,
    choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 24, completion_tokens: 80, total_tokens: 104 },
  });

  // Rows: put()'s columns; the response is the same answer with its own completion id.
  t0 = now();
  await sql.transaction(async (tx) => {
    for (let i0 = 0; i0 < texts.length; i0 += rowsPerStatement) {
      const rows = [];
      for (let i = i0; i < Math.min(texts.length, i0 + rowsPerStatement); i++) rows.push({ id: keys[i].id, q: keys[i].query, r: `chatcmpl-seed-${i}` });
      await tx.query(
        `INSERT INTO cache_entries (tenant_id, id, alias, scope, query, response, prompt_tokens, completion_tokens, collections, user_id, session_id, created_at, expires_at)
         SELECT $1, r.id, $2, $3, r.q, jsonb_set($4::jsonb, '{id}', to_jsonb(r.r)), 24, 80, '{}', NULL, NULL,
                to_timestamp($5::double precision / 1000), to_timestamp($6::double precision / 1000)
           FROM jsonb_to_recordset($7::jsonb) AS r(id text, q text, r text)`,
        [tenantId, opts.alias, scope, JSON.stringify(completion(0)), createdAt, expiresAt, JSON.stringify(rows)],
      );
      if ((i0 / rowsPerStatement) % 10 === 9) log(`  ${i0 + rows.length}/${texts.length} rows`);
    }
  });
  lap('rows_s', t0);

  if (redis) {
    t0 = now();
    for (let i0 = 0; i0 < texts.length; i0 += 1000) {
      const p = redis.pipeline();
      for (let i = i0; i < Math.min(texts.length, i0 + 1000); i++) {
        const entry = {
          tenantId,
          id: keys[i].id,
          alias: opts.alias,
          scope,
          query: keys[i].query,
          response: completion(i),
          promptTokens: 24,
          completionTokens: 80,
          collections: [],
          userId: null,
          sessionId: null,
          createdAt,
          expiresAt,
        };
        p.set(redisKey(tenantId, keys[i].id), JSON.stringify(entry), 'PX', expiresAt - Date.now());
      }
      const res = await p.exec();
      const failed = res.find(([err]) => err);
      if (failed) throw failed[0];
    }
    lap('redis_s', t0);
  }

  // The real embeddings of the base texts (kind 'document': the same vectors as a query's for
  // USE-lite, and they do not go through the query LRU).
  t0 = now();
  baseVectors = [];
  for (let i = 0; i < base; i += 64) {
    baseVectors.push(...(await embedder.embed(texts.slice(i, Math.min(base, i + 64)), { kind: 'document' })));
    if ((i / 64) % 10 === 9) log(`  ${Math.min(base, i + 64)}/${base} base texts embedded (${Math.round((now() - t0) / 1000)} s)`);
  }
  lap('embed_s', t0);
  t.embed_per_s = Math.round(base / t.embed_s);

  t0 = now();
  await vectors.ensureCollection(cache.spec);
  await sql.exec(`DROP INDEX IF EXISTS ${vecTable}_hnsw`);
  const sigma = Math.sqrt((1 / (noiseCos * noiseCos) - 1) / embedder.dimensions);
  const gauss = rng(12345);
  const pick = uniform(777);
  let cosSum = 0;
  // 'mix': the midpoint of its base and another random base (plus a little noise): a point among the
  // real embeddings rather than off in random directions (≈ 0.84 to a paraphrase of either at most).
  const mixed = (i) => {
    const a = baseVectors[i % base];
    const b = baseVectors[Math.floor(pick() * base)];
    const v = new Float32Array(a.length);
    for (let k = 0; k < a.length; k++) v[k] = a[k] + b[k];
    return noisy(v, 0.01, gauss);
  };
  for (let i0 = 0; i0 < texts.length; i0 += vectorsPerUpsert) {
    const points = [];
    for (let i = i0; i < Math.min(texts.length, i0 + vectorsPerUpsert); i++) {
      const b = baseVectors[i % base];
      const vector = i < base ? b : fill === 'mix' ? mixed(i) : noisy(b, sigma, gauss);
      if (i >= base) cosSum += dot(vector, b);
      points.push({ id: keys[i].id, vector, payload: { scope } });
    }
    await vectors.upsert({ collection: cache.spec.name, tenantId, points });
    if ((i0 / vectorsPerUpsert) % 20 === 19) log(`  ${i0 + points.length}/${texts.length} vectors (${Math.round((now() - t0) / 1000)} s)`);
  }
  lap('vectors_s', t0);

  t0 = now();
  log('  building the HNSW index');
  // Room for the graph in memory, else pgvector finishes the build on disk, much slower.
  await sql.exec("SET maintenance_work_mem = '512MB'");
  await sql.exec(`CREATE INDEX IF NOT EXISTS ${vecTable}_hnsw ON ${vecTable} USING hnsw (embedding vector_cosine_ops)`);
  await sql.exec('RESET maintenance_work_mem');
  lap('hnsw_s', t0);
  t0 = now();
  await sql.exec(`ANALYZE ${vecTable}`);
  await sql.exec('ANALYZE cache_entries');
  lap('analyze_s', t0);
  const { rows: sizes } = await sql.query(
    `SELECT pg_total_relation_size('cache_entries')::float8 AS entries, pg_total_relation_size('${vecTable}')::float8 AS vectors, pg_relation_size('${vecTable}_hnsw')::float8 AS hnsw`,
  );
  return {
    scope,
    ids: keys.map((k) => k.id),
    timings: t,
    noise_sigma: sigma,
    filler_cos_to_base_mean: texts.length > base ? Math.round((cosSum / (texts.length - base)) * 1000) / 1000 : null,
    table_mb: Object.fromEntries(Object.entries(sizes[0]).map(([k, v]) => [k, Math.round(Number(v) / 1048576)])),
    vec_table: vecTable,
  };
}

/**
 * For each candidate paraphrase {text, base}: its real embedding against every base vector, exactly.
 * ok when its own base is the nearest, at `threshold + margin` or more, ahead of the next by `gap`.
 */
async function prefilter({ candidates, threshold, margin = 0.01, gap = 0.005 }) {
  const out = [];
  for (let i = 0; i < candidates.length; i += 64) {
    const batch = candidates.slice(i, i + 64);
    const vs = await embedder.embed(
      batch.map((c) => c.text),
      { kind: 'document' },
    );
    batch.forEach((c, j) => {
      let best = -1;
      let bestSim = -2;
      let second = -2;
      for (let b = 0; b < baseVectors.length; b++) {
        const s = dot(vs[j], baseVectors[b]);
        if (s > bestSim) {
          second = bestSim;
          bestSim = s;
          best = b;
        } else if (s > second) second = s;
      }
      out.push({ ok: best === c.base && bestSim >= threshold + margin && bestSim - second >= gap, sim: bestSim, second, best });
    });
  }
  return out;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 1000) / 1000 : null;
};
const summary = (xs) => ({ p50: pct(xs, 0.5), p95: pct(xs, 0.95), p99: pct(xs, 0.99), n: xs.length });

/**
 * A semantic hit's parts one by one, in this process (no HTTP): the query embedding (through the
 * gateway's embedder, LRU missed: fresh texts), the vector search the cache makes (topK 3, filter
 * { scope }, through the pgvector adapter), the entry read (SQL, and Redis when configured), the
 * "few enough points?" count the adapter memoises for 10 s; the recall of the HNSW query at several
 * ef_search values against an exact scan (same top hit; top hit at the threshold or above), and
 * its plan.
 */
async function diag({ tenantId, scope, paraphrases, exactIds }) {
  const t = { embed: [], embed_lru: [], search: [], get_sql: [], get_redis: [], count: [] };
  const ids = [];
  for (const p of paraphrases) {
    let t0 = now();
    const [v] = await embedder.embed([p], { kind: 'query' });
    t.embed.push(now() - t0);
    t0 = now();
    await embedder.embed([p], { kind: 'query' });
    t.embed_lru.push(now() - t0);
    t0 = now();
    const hits = await vectors.search({ collection: cache.spec.name, tenantId, vector: v, topK: 3, filter: { scope } });
    t.search.push(now() - t0);
    ids.push(hits[0]?.id);
  }
  for (const id of exactIds) {
    let t0 = now();
    await sql.query(
      `SELECT tenant_id, id, alias, scope, query, response, prompt_tokens, completion_tokens, collections, user_id, session_id,
         (extract(epoch FROM created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
         FROM cache_entries WHERE tenant_id = $1 AND id = $2 AND expires_at > now()`,
      [tenantId, id],
    );
    t.get_sql.push(now() - t0);
    if (redis) {
      t0 = now();
      JSON.parse(await redis.get(redisKey(tenantId, id)));
      t.get_redis.push(now() - t0);
    }
  }
  for (let i = 0; i < 5; i++) {
    const t0 = now();
    await sql.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${vecTable} WHERE tenant_id = $1 AND (payload->>'scope') = ANY($2::text[]) LIMIT 20001) s`, [
      tenantId,
      [scope],
    ]);
    t.count.push(now() - t0);
  }
  // Recall: the adapter's HNSW query at several hnsw.ef_search values (pgvector's default, which the
  // adapter keeps for topK ≤ 40, is 40) against the exact answer (index scans off: every point ranked).
  const efs = [40, 100, 200, 400];
  const modes = [...efs.map((ef) => `ef${ef}`), 'exact'];
  const recall = Object.fromEntries(modes.map((m) => [m, { ms: [], same_top1: 0, hit: 0 }]));
  const query = `SELECT id, 1 - (embedding <=> $2::vector) AS score FROM ${vecTable}
       WHERE tenant_id = $1 AND (payload->>'scope') = ANY($4::text[]) ORDER BY embedding <=> $2::vector LIMIT $3`;
  const run = (mode, literal, explain = false) =>
    sql.transaction(async (tx) => {
      if (mode === 'exact') {
        await tx.query('SET LOCAL enable_indexscan = off');
        await tx.query('SET LOCAL enable_bitmapscan = off');
      } else {
        await tx.query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)");
        await tx.query("SELECT set_config('hnsw.ef_search', $1, true)", [mode.slice(2)]);
      }
      return (await tx.query(explain ? `EXPLAIN ${query}` : query, [tenantId, literal, 3, [scope]])).rows;
    });
  for (const [i, p] of paraphrases.entries()) {
    const [v] = await embedder.embed([p], { kind: 'query' });
    const literal = `[${Array.from(v).join(',')}]`;
    const got = {};
    // Rotated order, so no mode always runs on pages the previous one warmed.
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(i + k) % modes.length];
      const t0 = now();
      got[mode] = await run(mode, literal);
      recall[mode].ms.push(now() - t0);
    }
    if (i === 0)
      for (const mode of modes) {
        const plan = await run(mode, literal, true);
        recall[mode].plan_uses_hnsw = plan.some((row) => String(Object.values(row)[0]).includes(`${vecTable}_hnsw`));
      }
    for (const mode of modes) {
      if (got[mode][0]?.id === got.exact[0]?.id) recall[mode].same_top1++;
      if (Number(got[mode][0]?.score) >= config.cache.threshold) recall[mode].hit++;
    }
  }
  const [v] = await embedder.embed([paraphrases[0] ?? 'hello'], { kind: 'query' });
  const plan = await sql.transaction(async (tx) => {
    await tx.query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)");
    const r = await tx.query(`EXPLAIN (ANALYZE, BUFFERS) ${query}`, [tenantId, `[${Array.from(v).join(',')}]`, 3, [scope]]);
    return r.rows.map((row) => Object.values(row)[0]);
  });
  return {
    ms: Object.fromEntries(
      Object.entries(t)
        .filter(([, xs]) => xs.length > 0)
        .map(([k, xs]) => [k, summary(xs)]),
    ),
    recall: Object.fromEntries(
      Object.entries(recall).map(([m, r]) => [m, { ...summary(r.ms), same_top1: r.same_top1, hit: r.hit, plan_uses_hnsw: r.plan_uses_hnsw }]),
    ),
    top1_ids: ids,
    plan,
    uses_hnsw: plan.some((l) => l.includes(`${vecTable}_hnsw`)),
  };
}

// ————— IPC —————

const handlers = { seed, prefilter, diag };
process.on('message', async (m) => {
  if (m?.cmd === 'close') {
    try {
      await cache.idle();
      server.closeAllConnections();
      server.close();
      redis?.disconnect();
      await gateway.close();
    } catch (e) {
      log(`close: ${e?.message ?? e}`);
    }
    process.send({ id: m.id, ok: true, result: null }, () => process.exit(0));
    return;
  }
  const h = handlers[m?.cmd];
  if (!h) return process.send({ id: m?.id, ok: false, error: `unknown command ${m?.cmd}` });
  try {
    process.send({ id: m.id, ok: true, result: await h(m) });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: e?.stack ?? String(e) });
  }
});
process.on('disconnect', () => process.exit(1));
process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}`, pid: process.pid });
