#!/usr/bin/env node
/**
 * Context-path latency at scale — issue 4's benchmark.
 *
 *   npm run bench -- --bench context            (or: npm run build && node test/bench/context.bench.mjs)
 *   options: --others 50000 (memories of other sessions in the tenant) --turns 600 --queries 200 --budget 2048
 *            --data DIR (LoCoMo files for real turns and questions, default ../shared/bench/locomo)
 *
 * Runs the built gateway in this process on the embedded default (PGlite + pgvector in a temporary
 * directory, USE-lite embeddings), listening on 127.0.0.1:0, and measures through HTTP:
 *  - ingestion: a 600-turn session (LoCoMo turns) imported, then the time until every turn is
 *    embedded → turns embedded per second;
 *  - a tenant that also holds `--others` memories: turns of other sessions with full-text rows in
 *    SQL and vectors in the store (random unit vectors — embedding 50k texts at ~60/s would take
 *    14 minutes and changes nothing about search cost, which is what this measures);
 *  - POST /v1/context latency p50/p95, closed loop (c=1), for LoCoMo questions on the session:
 *    first pass = fresh questions (includes the query embedding), second pass = the same questions
 *    again (the query vector comes from the LRU: latency without the embedding), and the same
 *    questions with retrieval off (recency only) as the side-by-side baseline;
 *  - RSS of the process (gateway + embedding threads + PGlite).
 * Writes test/bench/results/context.{md,json} and prints one JSON line last.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeResults } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

export async function runContextBench(argv = process.argv.slice(2)) {
  const { values: a } = parseArgs({
    args: argv,
    strict: false,
    options: {
      others: { type: 'string', default: '50000' },
      turns: { type: 'string', default: '600' },
      queries: { type: 'string', default: '200' },
      budget: { type: 'string', default: '2048' },
      data: { type: 'string', default: resolve(root, '../shared/bench/locomo') },
    },
  });
  const nOthers = Number(a.others);
  const nTurns = Number(a.turns);
  const nQueries = Number(a.queries);
  const budget = Number(a.budget);
  const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  const { loadConfig } = await dist('src/config/load.js');
  const { createGateway } = await dist('src/gateway.js');
  const pino = (await import('pino')).default;

  // Real turns and questions: LoCoMo conversations concatenated until `--turns`.
  const turns = [];
  const questions = [];
  for (const f of readdirSync(a.data).filter((x) => x.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(a.data, f), 'utf8'));
    for (const k of Object.keys(d).filter((k) => /^session_\d+$/.test(k) && Array.isArray(d[k])).sort((x, y) => Number(x.split('_')[1]) - Number(y.split('_')[1]))) {
      for (const t of d[k]) turns.push({ role: t.speaker === d.speaker_a ? 'user' : 'assistant', name: t.speaker.replace(/[^A-Za-z0-9_-]/g, '_'), content: t.text, external_id: `${f}:${t.dia_id}` });
    }
    for (const q of d.qa ?? []) if (q.category !== 5) questions.push(q.question);
  }
  turns.splice(nTurns);
  questions.splice(nQueries);

  const dir = mkdtempSync(join(tmpdir(), 'ctx-bench-'));
  const config = loadConfig({}, {
    server: { host: '127.0.0.1', port: 0 },
    database: { dataDir: join(dir, 'data') },
    auth: { adminApiKey: 'bench-admin-key-0123456789' },
    providers: { none: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'unused' } },
    models: { bench: { targets: [{ provider: 'none', model: 'gpt-4o-mini' }] } },
    embeddings: { preload: true },
    log: { level: 'warn' },
  });
  const gateway = await createGateway(config, pino({ level: 'warn' }));
  const server = createServer(gateway.app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const { sql, tenancy, vectors, indexer } = gateway.deps;
  const out = { bench: 'context', others: nOthers, turns: turns.length, queries: questions.length, budget };
  try {
    const tenant = await tenancy.createTenant({ name: 'bench' });
    const { key } = await tenancy.createKey({ tenantId: tenant.id });
    const call = async (method, path, body) => {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
      const json = await res.json();
      if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };

    // 1. The other memories: SQL rows (full text) marked embedded, and random vectors beside them.
    let t = Date.now();
    const perSession = 100;
    const words = turns.flatMap((x) => x.content.split(/\s+/)).filter(Boolean);
    for (let s = 0; s < nOthers / perSession; s++) {
      const rows = Array.from({ length: perSession }, (_, i) => ({ i: i + 1, c: Array.from({ length: 12 + ((s * 7 + i) % 20) }, (_, j) => words[(s * 9973 + i * 131 + j * 17) % words.length]).join(' ') }));
      await sql.query(
        `WITH s AS (INSERT INTO sessions (tenant_id, id, user_id, last_seq) VALUES ($1, $2, $3, $4) RETURNING id)
         INSERT INTO messages (tenant_id, session_id, user_id, seq, role, content, token_count, token_encoding, embedded_model)
         SELECT $1, $2, $3, r.i, CASE WHEN r.i % 2 = 1 THEN 'user' ELSE 'assistant' END, r.c, 20, 'o200k_base', $5 FROM jsonb_to_recordset($6::jsonb) AS r(i int, c text)`,
        [tenant.id, `other-${s}`, `user-${s % 50}`, perSession, indexer.collection.model, JSON.stringify(rows)],
      );
      const { rows: ids } = await sql.query('SELECT id::text AS id, seq FROM messages WHERE tenant_id = $1 AND session_id = $2', [tenant.id, `other-${s}`]);
      await vectors.upsert({
        collection: indexer.collection.name,
        tenantId: tenant.id,
        points: ids.map((r) => ({ id: r.id, vector: randomUnit(indexer.collection.dimensions), payload: { session: `other-${s}`, user: `user-${s % 50}`, seq: r.seq, role: 'user', at: 0 } })),
      });
      if ((s + 1) % 50 === 0) console.error(`  ${(s + 1) * perSession} memories seeded (${round((Date.now() - t) / 1000, 1)} s)`);
    }
    out.seed_seconds = round((Date.now() - t) / 1000, 1);
    console.error(`seeded ${nOthers} other memories in ${out.seed_seconds} s`);

    // 2. Ingestion of the session: import, then wait for every turn to be embedded.
    t = Date.now();
    await call('POST', '/v1/sessions/bench-session/messages', { messages: turns, model: 'bench' });
    for (;;) {
      const s = await call('GET', '/v1/sessions/bench-session');
      if (s.memory.turns_pending_embedding === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    out.embed_turns_per_second = round(turns.length / ((Date.now() - t) / 1000), 1);
    console.error(`embedded ${turns.length} turns: ${out.embed_turns_per_second} turns/s`);

    // 3. Latency, closed loop.
    const ask = (q, extra = {}) => call('POST', '/v1/context', { model: 'bench', session_id: 'bench-session', messages: [{ role: 'user', content: q }], context: { budget, ...extra } });
    for (const q of ['warm-up one', 'warm-up two']) await ask(q);
    const measure = async (label, extra) => {
      const ms = [];
      let ran = 0;
      for (const q of questions) {
        const s = performance.now();
        const r = await ask(q, extra);
        ms.push(performance.now() - s);
        if (r.retrieval.ran) ran++;
      }
      const st = stats(ms);
      out[label] = { ...st, retrieval_ran: ran };
      console.error(`${label}: p50 ${st.p50} ms, p95 ${st.p95} ms, p99 ${st.p99} ms (retrieval ran ${ran}/${questions.length})`);
    };
    await measure('with_query_embedding');
    await measure('without_query_embedding');
    await measure('recency_only', { episodic: false });
    out.retrieval_overhead_p95_ratio = round(out.with_query_embedding.p95 / out.recency_only.p95, 2);
    out.rss_mb = round(process.memoryUsage().rss / 1048576, 0);
    out.target_p95_ms = 50;
    out.target_met = out.with_query_embedding.p95 <= 50;
  } finally {
    server.close();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const md = [
    `| context path (${out.turns}-turn session, ${out.others} other memories, budget ${budget}) | p50 ms | p95 ms | p99 ms |`,
    '|---|---|---|---|',
    `| with query embedding (fresh questions) | ${out.with_query_embedding.p50} | ${out.with_query_embedding.p95} | ${out.with_query_embedding.p99} |`,
    `| without (query vector from the LRU) | ${out.without_query_embedding.p50} | ${out.without_query_embedding.p95} | ${out.without_query_embedding.p99} |`,
    `| recency only (retrieval off; baseline) | ${out.recency_only.p50} | ${out.recency_only.p95} | ${out.recency_only.p99} |`,
    '',
    `turns embedded/s: ${out.embed_turns_per_second}; RSS ${out.rss_mb} MB; retrieval p95 ÷ recency-only p95: ${out.retrieval_overhead_p95_ratio}×`,
  ].join('\n');
  writeResults('context', out, md);
  console.log(JSON.stringify(out));
  return out;
}

function randomUnit(n) {
  const v = new Float32Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    // Box–Muller: an isotropic direction, like embeddings spread over the sphere.
    const x = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    v[i] = x;
    s += x * x;
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < n; i++) v[i] *= inv;
  return v;
}

function stats(ms) {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))], 1);
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), mean: round(ms.reduce((x, y) => x + y, 0) / ms.length, 1) };
}

function round(x, d) {
  return Number(x.toFixed(d));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runContextBench();
