#!/usr/bin/env node
/**
 * Knowledge ingestion and search at scale — the knowledge bench.
 *
 *   npm run bench -- --bench knowledge        (or: npm run build && node test/bench/knowledge.bench.mjs)
 *   options: --docs 150 (markdown documents) --pdf-docs 100 (pdf documents) --upload-mb 200 --upload-file-mb 4
 *            --ingest-minutes 5 (RSS sampled this long into the ingestion after the upload) --upload-only (0 minutes)
 *            --chunks 100000 (search corpus) --base-passages 2000 --queries 200 --diag-queries 50
 *            --hnsw rebuild|incremental --files-per-request 10
 *            --skip ingest,pdf,search,rss --data DIR (LoCoMo files, default ../shared/bench/locomo)
 *            --database-url URL (Postgres with pgvector instead of the embedded PGlite; the run's tables go
 *            in a schema of their own, dropped at the end)
 *
 * Runs the built gateway (dist/) on the embedded default (PGlite + pgvector in a temporary directory,
 * USE-lite embeddings on 2 worker threads) — or on Postgres with `--database-url` — listening on
 * 127.0.0.1:0, and measures through HTTP:
 *  - ingest, markdown: `--docs` documents of ~2,000 words of LoCoMo turns (sessions as headings),
 *    uploaded as multipart files (`--files-per-request` per request, 2 requests in flight); the time
 *    from the first upload until every document is ready → docs/s, pages/s (a page = 500 words),
 *    chunks/s, MB/s. Then each file is parsed again alone on the gateway's parser thread (the
 *    ingestor idle): the parse cost per page and its share of the ingestion time.
 *  - ingest, pdf: the same texts as multi-page PDFs (~500 words a page, Helvetica), same figures with
 *    the real page count.
 *  - search over `--chunks` chunks: documents, chunks (LoCoMo passages, so full text is realistic)
 *    and vectors written straight through the gateway's SQL and vector store, since embedding 100k
 *    chunks would take hours (USE-lite embeds ~10–20 chunks of 400 tokens a second on 2 cores). The vectors are real embeddings of `--base-passages` distinct
 *    passages, each reused for many chunks with small gaussian noise (renormalised; cosine ~0.96
 *    to its base); a chunk's text is its base passage shifted by a few turns. Then
 *    POST /v1/collections/:id/search (top_k 8, default highlights) closed loop (c=1) for `--queries`
 *    LoCoMo questions: hybrid with the query embedded, hybrid again (query vector from the LRU),
 *    lexical only, vector only — after one VACUUM ANALYZE of the seeded tables (what autovacuum, or on
 *    PGlite the gateway's analyzer every 5,000 rows written, does) and `--warm-queries` other questions
 *    asked once (hybrid), so every measured row finds the database's caches as a serving gateway
 *    would, not the first row alone paying for cold index pages. Then, on the first `--diag-queries`:
 *    hybrid without highlights. The HNSW index is
 *    built once after the rows by default (`--hnsw incremental` keeps it during the inserts: slower).
 *    100k chunks seed in ~5 minutes.
 *  - RSS during a `--upload-mb` upload: files of `--upload-file-mb` (LoCoMo text, each file different)
 *    written to disk, uploaded 4 files per request, 2 requests in flight, to a gateway in a child
 *    process (a fresh process, so the baseline is that of a gateway alone, not of this one after the
 *    other parts); its RSS (and VmHWM, the kernel's own peak) read from /proc every 200 ms through
 *    the upload and the first `--ingest-minutes` of ingestion. Embedding 200 MB (~135k chunks) takes
 *    hours on 2 cores: `--ingest-minutes 240` follows it to the end.
 * Writes test/bench/results/knowledge.{md,json} and prints one JSON line last.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openAsBlob, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { makePdf } from '../helpers/pdf.mjs';
import { procStatus, writeResults } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const PAGE_WORDS = 500;
const DOC_WORDS = 2000;
const MB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runKnowledgeBench(argv = process.argv.slice(2)) {
  const { values: a } = parseArgs({
    args: argv,
    strict: false,
    options: {
      docs: { type: 'string', default: '150' },
      'pdf-docs': { type: 'string', default: '100' },
      'upload-mb': { type: 'string', default: '200' },
      'upload-file-mb': { type: 'string', default: '4' },
      'ingest-minutes': { type: 'string', default: '5' },
      'upload-only': { type: 'boolean', default: false },
      chunks: { type: 'string', default: '100000' },
      'base-passages': { type: 'string', default: '2000' },
      hnsw: { type: 'string', default: 'rebuild' },
      queries: { type: 'string', default: '200' },
      'diag-queries': { type: 'string', default: '50' },
      'warm-queries': { type: 'string', default: '100' },
      'files-per-request': { type: 'string', default: '10' },
      skip: { type: 'string', default: '' },
      data: { type: 'string', default: resolve(root, '../shared/bench/locomo') },
      'database-url': { type: 'string' },
      'keep-schema': { type: 'boolean', default: false },
      embedder: { type: 'string', default: 'use-lite' },
    },
  });
  const skip = new Set(a.skip.split(',').filter(Boolean));
  for (const s of skip) if (!['ingest', 'pdf', 'search', 'rss'].includes(s)) throw new Error(`--skip ${s}: parts are ingest, pdf, search, rss`);
  if (!['rebuild', 'incremental'].includes(a.hnsw)) throw new Error(`--hnsw ${a.hnsw}: rebuild or incremental`);
  const corpus = loadCorpus(a.data);
  const command = `node ${relative(process.cwd(), process.argv[1] ?? 'test/bench/knowledge.bench.mjs')} ${process.argv.slice(2).join(' ')}`.trim();
  if (!['use-lite', 'minilm-shape'].includes(a.embedder)) throw new Error(`--embedder ${a.embedder}: use-lite or minilm-shape`);
  const embeddings = a.embedder === 'minilm-shape' ? await miniLmEmbeddings() : undefined;
  const db = a['database-url'] ? { url: a['database-url'], schema: `bench_knowledge_${process.pid}`, embeddings } : embeddings && { embeddings };
  const out = {
    bench: 'knowledge',
    command,
    started_at: new Date().toISOString(),
    database: db?.url ? 'postgres + pgvector' : 'pglite + pgvector (embedded)',
    embedder: embeddings ? `transformers, ${embeddings.label}` : 'use-lite (bundled, 2 worker threads)',
    loadavg_start: loadavg().map((x) => round(x, 2)),
  };
  const work = mkdtempSync(join(tmpdir(), 'knowledge-bench-'));
  try {
    if (!(skip.has('ingest') && skip.has('pdf') && skip.has('search'))) {
      const gw = await startGateway(join(work, 'data'), db);
      try {
        const filesPerRequest = Number(a['files-per-request']);
        if (!skip.has('ingest')) out.markdown = await ingestPart(gw, corpus, { format: 'markdown', n: Number(a.docs), filesPerRequest, dir: join(work, 'md') });
        if (!skip.has('pdf')) out.pdf = await ingestPart(gw, corpus, { format: 'pdf', n: Number(a['pdf-docs']), filesPerRequest, dir: join(work, 'pdf') });
        if (!skip.has('search'))
          out.search = await searchPart(gw, corpus, {
            chunks: Number(a.chunks),
            bases: Number(a['base-passages']),
            queries: Number(a.queries),
            diag: Number(a['diag-queries']),
            warm: Number(a['warm-queries']),
            hnsw: a.hnsw,
          });
        out.rss_in_process_mb = round(process.memoryUsage().rss / MB, 0);
      } finally {
        await gw.close();
      }
    }
    if (!skip.has('rss')) {
      out.rss = await rssPart(corpus, {
        mb: Number(a['upload-mb']),
        fileMb: Number(a['upload-file-mb']),
        minutes: a['upload-only'] ? 0 : Number(a['ingest-minutes']),
        dir: join(work, 'upload'),
        db: db && { ...db, schema: `${db.schema}_rss` },
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (db?.url && a['keep-schema']) console.error(`kept schema ${db.schema} (drop it when done)`);
    else if (db?.url) await dropSchemas(db.url, [db.schema, `${db.schema}_rss`]);
  }
  out.loadavg_end = loadavg().map((x) => round(x, 2));
  writeResults('knowledge', out, report(out));
  const { rss, ...line } = out;
  // The timeline stays in the JSON file; the printed line carries the summary.
  console.log(JSON.stringify({ ...line, ...(rss ? { rss: { ...rss, timeline: undefined } } : {}) }));
  return out;
}

// ————— the gateway —————

/**
 * The built gateway on 127.0.0.1:0 with a tenant and a key: on the embedded default in `dataDir`, or on
 * Postgres (`db.url`) in schema `db.schema`.
 */
async function startGateway(dataDir, db) {
  const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  const { loadConfig } = await dist('src/config/load.js');
  const { createGateway } = await dist('src/gateway.js');
  const pino = (await import('pino')).default;
  const config = loadConfig(
    {},
    {
      server: { host: '127.0.0.1', port: 0 },
      database: db?.url ? { url: db.url, schema: db.schema } : { dataDir },
      auth: { adminApiKey: 'bench-admin-key-0123456789' },
      providers: { none: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'unused' } },
      models: { bench: { targets: [{ provider: 'none', model: 'gpt-4o-mini' }] } },
      embeddings: db?.embeddings ? { kind: 'transformers', modelDir: db.embeddings.dir, model: db.embeddings.name } : { preload: true },
      log: { level: 'warn' },
    },
  );
  // Logs to stderr: stdout carries the last JSON line (and the child's handshake).
  const gateway = await createGateway(config, pino({ level: 'warn' }, pino.destination(2)));
  const server = createServer(gateway.app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const tenant = await gateway.deps.tenancy.createTenant({ name: 'bench' });
  const { key } = await gateway.deps.tenancy.createKey({ tenantId: tenant.id });
  return {
    url,
    key,
    tenantId: tenant.id,
    deps: gateway.deps,
    ...client(url, key),
    async close() {
      server.closeAllConnections();
      server.close();
      await gateway.close();
    },
  };
}

/** JSON calls and multipart uploads with the tenant's key. */
function client(url, key) {
  const authorization = `Bearer ${key}`;
  return {
    async call(method, path, body) {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
      const json = await res.json();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json).slice(0, 500)}`);
      return json;
    },
    /** One multipart request with a `file` part per file ({name, path}); refuses any refused file. */
    async upload(collectionId, files) {
      const form = new FormData();
      for (const f of files) form.append('file', await openAsBlob(f.path), f.name);
      const res = await fetch(`${url}/v1/collections/${collectionId}/documents`, { method: 'POST', headers: { authorization }, body: form });
      const json = await res.json();
      if (res.status !== 202 || json.errors.length > 0) throw new Error(`upload: ${res.status} ${JSON.stringify(json.errors ?? json).slice(0, 500)}`);
      return json.data;
    },
  };
}

/** Uploads `files` in requests of `perRequest`, `concurrency` in flight; returns each request's ms and the documents. */
async function uploadAll(api, collectionId, files, { perRequest, concurrency }) {
  const batches = [];
  for (let i = 0; i < files.length; i += perRequest) batches.push(files.slice(i, i + perRequest));
  const ms = [];
  const docs = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        const s = performance.now();
        docs.push(...(await api.upload(collectionId, batch)));
        ms.push(performance.now() - s);
      }
    }),
  );
  return { ms, docs };
}

/** Polls the collection's documents until all `n` are ready (a failed one ends the bench) or `deadline`. */
async function waitReady(api, collectionId, n, { every = 500, deadline = Infinity, onPoll } = {}) {
  for (;;) {
    const { data } = await api.call('GET', `/v1/collections/${collectionId}/documents`);
    const failed = data.find((d) => d.status === 'failed');
    if (failed) throw new Error(`document ${failed.id} (${failed.filename}) failed: ${failed.error}`);
    const ready = data.filter((d) => d.status === 'ready');
    onPoll?.(ready);
    if (ready.length >= n || Date.now() >= deadline) return { data, ready };
    await sleep(every);
  }
}

// ————— ingest throughput —————

async function ingestPart(gw, corpus, { format, n, filesPerRequest, dir }) {
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (let d = 0; d < n; d++) {
    const doc = buildDocument(corpus, d);
    const name = `doc-${String(d + 1).padStart(5, '0')}.${format === 'pdf' ? 'pdf' : 'md'}`;
    const bytes = format === 'pdf' ? makePdf(pdfPages(doc), { title: doc.title, fontSize: PDF_FONT, leading: PDF_LEADING }) : Buffer.from(renderMarkdown(doc));
    writeFileSync(join(dir, name), bytes);
    files.push({ name, path: join(dir, name), bytes: bytes.length, words: doc.words });
  }
  const totalBytes = files.reduce((s, f) => s + f.bytes, 0);
  const words = files.reduce((s, f) => s + f.words, 0);
  console.error(`${format}: ${n} documents, ${words} words, ${round(totalBytes / MB, 1)} MB — uploading`);

  const { id } = await gw.call('POST', '/v1/collections', { name: `bench-${format}` });
  const t0 = performance.now();
  const up = await uploadAll(gw, id, files, { perRequest: filesPerRequest, concurrency: 2 });
  const uploadS = (performance.now() - t0) / 1000;
  console.error(`${format}: uploaded (parsed) in ${round(uploadS, 1)} s; waiting until every document is ready`);
  let lastLog = Date.now();
  const { data } = await waitReady(gw, id, n, {
    onPoll: (ready) => {
      if (Date.now() - lastLog < 15_000) return;
      lastLog = Date.now();
      console.error(`  ${ready.length}/${n} ready (${round((performance.now() - t0) / 1000, 0)} s)`);
    },
  });
  const totalS = (performance.now() - t0) / 1000;
  const chunks = data.reduce((s, d) => s + d.chunk_count, 0);
  const pages = format === 'pdf' ? data.reduce((s, d) => s + (d.page_count ?? 0), 0) : round(words / PAGE_WORDS, 1);

  // The parse alone: every file again through the gateway's parser thread, the ingestor idle.
  const limits = gw.deps.config.knowledge.upload;
  await gw.deps.parser.parse(files[0].path, files[0].name, limits); // the thread may have stopped while idle
  const p0 = performance.now();
  for (const f of files) await gw.deps.parser.parse(f.path, f.name, limits);
  const parseS = (performance.now() - p0) / 1000;

  const r = {
    documents: n,
    words,
    pages,
    chunks,
    mb: round(totalBytes / MB, 2),
    upload_seconds: round(uploadS, 1),
    total_seconds: round(totalS, 1),
    docs_per_second: round(n / totalS, 2),
    pages_per_second: round(pages / totalS, 2),
    chunks_per_second: round(chunks / totalS, 1),
    mb_per_second: round(totalBytes / MB / totalS, 3),
    upload_request_ms: stats(up.ms),
    files_per_request: filesPerRequest,
    parse_alone_seconds: round(parseS, 2),
    parse_ms_per_page: round((parseS * 1000) / pages, 2),
    parse_share: round(parseS / totalS, 3),
  };
  console.error(
    `${format}: ${r.docs_per_second} docs/s, ${r.pages_per_second} pages/s, ${r.chunks_per_second} chunks/s, ${r.mb_per_second} MB/s ` +
      `(${chunks} chunks in ${r.total_seconds} s); parse alone ${r.parse_ms_per_page} ms/page = ${round(r.parse_share * 100, 1)} % of the time`,
  );
  return r;
}

// ————— search latency —————

async function searchPart(gw, corpus, { chunks: nChunks, bases: nBases, queries: nQueries, diag: nDiag, warm: nWarm, hnsw }) {
  const { sql, docVectors, documents, embedder } = gw.deps;
  const perDoc = 100;
  const { id: collectionId } = await gw.call('POST', '/v1/collections', { name: 'bench-search' });
  await docVectors.ensureCollection(documents.spec);

  // Base passages: ~300-word windows of one conversation's turns (what a 400-token chunk holds), spread over the corpus.
  const starts = [];
  for (let b = 0; b < nBases; b++) starts.push(Math.floor((b * corpus.turns.length) / nBases));
  let t = Date.now();
  const baseVectors = [];
  for (let b = 0; b < nBases; b += 64) {
    const texts = starts.slice(b, b + 64).map((s) => passage(corpus, s, 300).text);
    baseVectors.push(...(await embedder.embed(texts, { kind: 'document' })));
    if ((b / 64) % 8 === 7) console.error(`  ${Math.min(b + 64, nBases)}/${nBases} base passages embedded (${round((Date.now() - t) / 1000, 0)} s)`);
  }
  const embedS = (Date.now() - t) / 1000;
  console.error(`search: ${nBases} base passages embedded in ${round(embedS, 1)} s; seeding ${nChunks} chunks`);

  // The HNSW index: kept while seeding (each insert walks the graph, as ingestion does), or dropped
  // and built once at the end (pgvector's bulk build; the same index the vector store creates).
  const vecTable = `vec_${documents.spec.name}`;
  if (hnsw === 'rebuild') await sql.query(`DROP INDEX IF EXISTS ${vecTable}_hnsw`);
  t = Date.now();
  const spent = { sql: 0, vectors: 0 };
  const batchDocs = 5; // 500 chunks per statement
  const nDocs = Math.ceil(nChunks / perDoc);
  let seeded = 0;
  let lastLog = Date.now();
  for (let d0 = 0; d0 < nDocs; d0 += batchDocs) {
    const docs = [];
    const rows = [];
    for (let d = d0; d < Math.min(nDocs, d0 + batchDocs); d++) {
      const id = `doc_bench_${d}`;
      const parts = [];
      let at = 0;
      for (let s = 1; s <= perDoc && d * perDoc + s - 1 < nChunks; s++) {
        const i = d * perDoc + s - 1;
        const b = i % nBases;
        const v = Math.floor(i / nBases);
        // A variant of its base: shifted by up to ±3 turns, 260–340 words.
        const p = passage(corpus, starts[b] + ((v * 5) % 7) - 3, 260 + ((v * 37) % 80));
        rows.push({ doc: id, seq: s, text: p.text, hp: [p.heading], cs: at, ce: at + p.text.length, tc: Math.round(p.words * 1.33), b });
        parts.push(p.text);
        at += p.text.length + 2;
      }
      docs.push({ id, title: `Seeded document ${d + 1}`, text: parts.join('\n\n'), n: parts.length });
    }
    let lap = performance.now();
    await sql.query(
      `INSERT INTO documents (tenant_id, id, collection_id, title, content_hash, format, status, text, chars, chunk_count)
       SELECT $1, r.id, $2, r.title, r.id, 'markdown', 'ready', r.text, length(r.text), r.n FROM jsonb_to_recordset($3::jsonb) AS r(id text, title text, text text, n int)`,
      [gw.tenantId, collectionId, JSON.stringify(docs)],
    );
    const { rows: ids } = await sql.query(
      `INSERT INTO chunks (tenant_id, collection_id, document_id, seq, text, heading_path, char_start, char_end, token_count)
       SELECT $1, $2, r.doc, r.seq, r.text, r.hp, r.cs, r.ce, r.tc FROM jsonb_to_recordset($3::jsonb) AS r(doc text, seq int, text text, hp jsonb, cs int, ce int, tc int)
       ORDER BY r.doc, r.seq RETURNING id::text AS id, document_id, seq`,
      [gw.tenantId, collectionId, JSON.stringify(rows.map(({ b: _b, ...r }) => r))],
    );
    spent.sql += performance.now() - lap;
    lap = performance.now();
    const baseOf = new Map(rows.map((r) => [`${r.doc}:${r.seq}`, r.b]));
    await docVectors.upsert({
      collection: documents.spec.name,
      tenantId: gw.tenantId,
      points: ids.map((r) => ({
        id: r.id,
        vector: noisy(baseVectors[baseOf.get(`${r.document_id}:${r.seq}`)]),
        payload: { collection: collectionId, document: r.document_id, seq: r.seq },
      })),
    });
    spent.vectors += performance.now() - lap;
    seeded += rows.length;
    if (Date.now() - lastLog > 15_000 || seeded === nChunks) {
      lastLog = Date.now();
      const s = (Date.now() - t) / 1000;
      console.error(
        `  ${seeded}/${nChunks} chunks seeded (${round(s, 0)} s, ${round(seeded / s, 0)}/s; SQL rows ${round(spent.sql / 1000, 0)} s, vectors ${round(spent.vectors / 1000, 0)} s)`,
      );
    }
  }
  let indexS = 0;
  if (hnsw === 'rebuild') {
    const lap = performance.now();
    console.error('  building the HNSW index');
    // Room for the graph in memory, else pgvector finishes the build on disk, much slower.
    // One script, so the setting and the build share a connection on a pooled Postgres too.
    await sql.exec(`SET maintenance_work_mem = '512MB'; CREATE INDEX ${vecTable}_hnsw ON ${vecTable} USING hnsw (embedding vector_cosine_ops); RESET maintenance_work_mem`);
    indexS = (performance.now() - lap) / 1000;
    console.error(`  HNSW index built in ${round(indexS, 0)} s`);
  }
  const seedS = (Date.now() - t) / 1000;

  const questions = corpus.questions.slice(0, nQueries);
  const warm = corpus.questions.slice(-10);
  const ask = (query, mode, highlights = true) => gw.call('POST', `/v1/collections/${collectionId}/search`, { query, top_k: 8, mode, highlights });
  const out = {
    chunks: seeded,
    documents: nDocs,
    base_passages: nBases,
    vectors: 'real USE-lite embeddings of the base passages, each reused with gaussian noise (norm 0.3, renormalised)',
    base_embed_seconds: round(embedS, 1),
    seed_seconds: round(seedS, 1),
    seed_sql_seconds: round(spent.sql / 1000, 1),
    seed_vector_seconds: round(spent.vectors / 1000, 1),
    hnsw,
    hnsw_build_seconds: round(indexS, 1),
    seed_chunks_per_second: round(seeded / seedS, 0),
    queries: questions.length,
    warm_queries: 0,
  };
  const measure = async (label, mode, highlights, qs = questions) => {
    for (const q of warm.slice(0, 5)) await ask(q, mode, highlights);
    const ms = [];
    let hits = 0;
    for (const q of qs) {
      const s = performance.now();
      const r = await ask(q, mode, highlights);
      ms.push(performance.now() - s);
      hits += r.data.length;
    }
    out[label] = { ...stats(ms), mean_hits: round(hits / qs.length, 1) };
    console.error(`search ${label}: p50 ${out[label].p50} ms, p95 ${out[label].p95} ms, p99 ${out[label].p99} ms (${out[label].mean_hits} hits)`);
  };
  // Ingested through the API, the tables would be vacuumed and analysed: by autovacuum on Postgres,
  // and on PGlite (no autovacuum) by the gateway's analyzer after every 5,000 rows written. Seeded
  // here through SQL, they are vacuumed and analysed once, the same way.
  const lap = performance.now();
  for (const table of ['documents', 'chunks', 'chunk_lexemes', `vec_${documents.spec.name}`]) await sql.exec(`VACUUM ANALYZE ${table}`);
  out.analyze_seconds = round((performance.now() - lap) / 1000, 1);
  // Other questions than the measured ones (whose vectors must not be in the LRU yet).
  const warming = corpus.questions.slice(nQueries, nQueries + nWarm);
  for (const q of warming) await ask(q, 'hybrid');
  out.warm_queries = warming.length;
  await measure('hybrid_query_embedded', 'hybrid');
  await measure('hybrid_vector_cached', 'hybrid');
  await measure('lexical', 'lexical');
  await measure('vector_cached', 'vector');
  // Diagnostics on the first `--diag-queries`: the cost of highlights.
  const diag = questions.slice(0, nDiag);
  await measure('hybrid_no_highlights', 'hybrid', false, diag);
  // How many chunks each question's full-text query matches (any of its words): what ranking reads.
  const matches = [];
  for (const q of questions) {
    const { rows } = await sql.query(
      `SELECT count(*)::int AS n FROM chunks WHERE tenant_id = $1 AND collection_id = $2
       AND search @@ (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery FROM unnest(to_tsvector('english', $3)))`,
      [gw.tenantId, collectionId, q],
    );
    matches.push(rows[0].n);
  }
  out.lexical_matches = { ...stats(matches), max: Math.max(...matches) };
  out.target_p95_ms = 30;
  out.target_met = out.hybrid_query_embedded.p95 <= 30;
  return out;
}

/** The all-MiniLM-L6-v2-shaped model (random weights), built once into the temporary directory. */
async function miniLmEmbeddings() {
  const { ensureMiniLmShape, MINILM_SHAPE_LABEL } = await import('./lib/minilm-shape.mjs');
  const { dir, name } = await ensureMiniLmShape();
  return { dir, name, label: MINILM_SHAPE_LABEL };
}

/** Drops the run's schemas on Postgres (the embedded database goes with its temporary directory). */
async function dropSchemas(url, schemas) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await client.end();
  }
}

/** `v` plus isotropic gaussian noise of norm ~0.3, renormalised: a near neighbour of its base. */
function noisy(v) {
  const n = v.length;
  const sigma = 0.3 / Math.sqrt(n);
  const w = new Float32Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    w[i] = v[i] + sigma * Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    s += w[i] * w[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < n; i++) w[i] *= inv;
  return w;
}

// ————— RSS during a large upload —————

async function rssPart(corpus, { mb, fileMb, minutes, dir, db }) {
  mkdirSync(dir, { recursive: true });
  const nFiles = Math.max(1, Math.round(mb / fileMb));
  const t = Date.now();
  const files = [];
  for (let f = 0; f < nFiles; f++) {
    const name = `upload-${String(f + 1).padStart(3, '0')}.md`;
    writeLargeMarkdown(join(dir, name), corpus, f, Math.round((mb * MB) / nFiles));
    files.push({ name, path: join(dir, name), bytes: statSync(join(dir, name)).size });
  }
  const totalBytes = files.reduce((s, f) => s + f.bytes, 0);
  console.error(`rss: ${nFiles} files, ${round(totalBytes / MB, 1)} MB written in ${round((Date.now() - t) / 1000, 1)} s; starting the gateway process`);

  const child = await startChildGateway(join(dir, 'data'), db);
  const samples = [];
  const t0 = Date.now();
  let phase = 'idle';
  const sample = () => {
    const s = procStatus(child.pid);
    if (s) samples.push({ t: Date.now() - t0, rss: s.rss, hwm: s.hwm, phase });
  };
  const timer = setInterval(sample, 200);
  try {
    await sleep(3000);
    const baseline = median(samples.map((s) => s.rss));
    const api = client(child.url, child.key);
    const { id } = await api.call('POST', '/v1/collections', { name: 'bench-upload' });
    phase = 'upload';
    const tUp = Date.now();
    await uploadAll(api, id, files, { perRequest: 4, concurrency: 2 });
    const uploadS = (Date.now() - tUp) / 1000;
    console.error(`rss: ${round(totalBytes / MB, 0)} MB uploaded (and parsed) in ${round(uploadS, 1)} s; sampling ${minutes} min of ingestion`);
    phase = 'ingest';
    const deadline = Date.now() + minutes * 60_000;
    let lastLog = Date.now();
    let ready = [];
    if (minutes > 0) {
      ({ ready } = await waitReady(api, id, nFiles, {
        every: 1000,
        deadline,
        onPoll: (r) => {
          if (Date.now() - lastLog < 30_000) return;
          lastLog = Date.now();
          const last = samples.at(-1);
          console.error(`  ${r.length}/${nFiles} ready, RSS ${round((last?.rss ?? 0) / MB, 0)} MB (${round((Date.now() - tUp) / 1000, 0)} s)`);
        },
      }));
    } else {
      ({ ready } = await waitReady(api, id, nFiles, { deadline: 0 }));
    }
    const measuredS = (Date.now() - tUp) / 1000;
    sample();
    const up = samples.filter((s) => s.phase === 'upload');
    const after = samples.filter((s) => s.phase !== 'idle');
    const last = samples.at(-1);
    const r = {
      files: nFiles,
      mb: round(totalBytes / MB, 1),
      files_per_request: 4,
      concurrency: 2,
      upload_seconds: round(uploadS, 1),
      ingest_minutes_sampled: minutes,
      measured_seconds: round(measuredS, 1),
      all_ready: ready.length === nFiles,
      documents_ready: ready.length,
      chunks_ready: ready.reduce((s, d) => s + d.chunk_count, 0),
      baseline_rss_mb: round(baseline / MB, 0),
      peak_rss_upload_mb: round(Math.max(...up.map((s) => s.rss)) / MB, 0),
      peak_rss_mb: round(Math.max(...after.map((s) => s.rss)) / MB, 0),
      vm_hwm_mb: round((last?.hwm ?? 0) / MB, 0),
      end_rss_mb: round((last?.rss ?? 0) / MB, 0),
      target_mb: 600,
      samples: samples.length,
      // One sample a second: [seconds since the gateway started, RSS MB, phase].
      timeline: samples.filter((_, i) => i % 5 === 0).map((s) => [round(s.t / 1000, 1), round(s.rss / MB, 0), s.phase]),
    };
    r.target_met = r.peak_rss_mb < 600 && r.vm_hwm_mb < 600;
    console.error(
      `rss: baseline ${r.baseline_rss_mb} MB, peak during upload ${r.peak_rss_upload_mb} MB, peak ${r.peak_rss_mb} MB (VmHWM ${r.vm_hwm_mb} MB), ` +
        `${r.documents_ready}/${nFiles} documents ready (${r.chunks_ready} chunks) after ${r.measured_seconds} s`,
    );
    return r;
  } finally {
    clearInterval(timer);
    await child.stop();
  }
}

/** This file as a child process serving the gateway (see `serveChild`), with its url and key. */
async function startChildGateway(dataDir, db) {
  const args = [fileURLToPath(import.meta.url), '--serve-child', dataDir, JSON.stringify(db ?? null)];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => proc.once('exit', r));
  const hello = await new Promise((resolveHello, reject) => {
    let buf = '';
    proc.stdout.on('data', (b) => {
      buf += b;
      const line = buf.split('\n').find((l) => l.startsWith('{"url"'));
      if (line) resolveHello(JSON.parse(line));
    });
    proc.once('exit', (code) => reject(new Error(`the gateway process exited (${code}) before it listened`)));
  });
  return {
    pid: proc.pid,
    ...hello,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Child mode: the gateway alone in this process until SIGTERM; the first stdout line says where. */
async function serveChild(dataDir, db) {
  const gw = await startGateway(dataDir, db);
  if (process.env.BENCH_HEAP_LOG) {
    const t0 = Date.now();
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (x) => Math.round(x / 1048576);
      console.error(`heap t=${Math.round((Date.now() - t0) / 1000)}s rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)}`);
    }, 1000).unref();
  }
  process.on('SIGTERM', () => {
    // The data directory is temporary: no need to wait for the ingestion in flight to finish.
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
  console.log(JSON.stringify({ url: gw.url, key: gw.key }));
}

/** ~`bytes` of markdown: LoCoMo turns from an offset of its own, with headings naming the file, so every file differs. */
function writeLargeMarkdown(path, corpus, f, bytes) {
  const fd = openSync(path, 'w');
  let written = 0;
  let buf = `# Upload ${f + 1}: conversation notes\n\n`;
  let i = (f * 997) % corpus.turns.length;
  let section = 0;
  while (written + buf.length < bytes) {
    if (i % 40 === 0) buf += `## File ${f + 1}, section ${++section}\n\n`;
    const turn = corpus.turns[i % corpus.turns.length];
    buf += `${turn.line}\n\n`;
    i++;
    if (buf.length > 1 << 20) {
      written += writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
}

// ————— the corpus —————

/** LoCoMo turns in conversation and session order, and the questions of categories 1–4. */
function loadCorpus(dataDir) {
  const turns = [];
  const questions = [];
  const convs = [];
  for (const f of readdirSync(dataDir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const d = JSON.parse(readFileSync(join(dataDir, f), 'utf8'));
    const conv = { name: `${d.speaker_a} and ${d.speaker_b}`, from: turns.length };
    const sessions = Object.keys(d)
      .filter((k) => /^session_\d+$/.test(k) && Array.isArray(d[k]))
      .sort((x, y) => Number(x.split('_')[1]) - Number(y.split('_')[1]));
    for (const k of sessions) {
      const n = Number(k.split('_')[1]);
      const heading = `Session ${n} (${d[`${k}_date_time`] ?? 'undated'}): ${conv.name}`;
      for (const t of d[k]) {
        const line = `**${t.speaker}:** ${t.text}${t.blip_caption ? ` [shares ${t.blip_caption}]` : ''}`;
        turns.push({ line, words: line.split(/\s+/).length, heading, conv: convs.length });
      }
    }
    conv.to = turns.length;
    convs.push(conv);
    for (const q of d.qa ?? []) if (q.category !== 5) questions.push(q.question);
  }
  return { turns, questions, convs };
}

/** ~`words` words of consecutive turns of one conversation from turn `start` (wrapping inside the conversation). */
function passage(corpus, start, words) {
  const n = corpus.turns.length;
  const first = corpus.turns[((start % n) + n) % n];
  const conv = corpus.convs[first.conv];
  const len = conv.to - conv.from;
  let i = (((start % n) + n) % n) - conv.from;
  const lines = [];
  let w = 0;
  while (w < words && lines.length < len) {
    const turn = corpus.turns[conv.from + (i % len)];
    lines.push(turn.line);
    w += turn.words;
    i++;
  }
  return { text: lines.join('\n\n'), words: w, heading: first.heading };
}

/**
 * Document `d`: ~2,000 words of turns from an offset of its own, a heading per session. Documents
 * beyond the corpus' ~32 distinct ones start elsewhere, and the title makes every one unique.
 */
function buildDocument(corpus, d) {
  const n = corpus.turns.length;
  let i = (d * 73) % n;
  const blocks = [];
  let words = 0;
  let heading;
  while (words < DOC_WORDS) {
    const turn = corpus.turns[i % n];
    if (turn.heading !== heading) {
      heading = turn.heading;
      blocks.push({ heading });
    }
    blocks.push({ text: turn.line, words: turn.words });
    words += turn.words;
    i++;
  }
  return { title: `Conversation notes ${d + 1}`, blocks, words };
}

const renderMarkdown = (doc) => [`# ${doc.title}`, ...doc.blocks.map((b) => (b.heading ? `## ${b.heading}` : b.text))].join('\n\n') + '\n';

// ————— pdf pages (the file itself: test/helpers/pdf.mjs) —————

const PDF_FONT = 10;
const PDF_LEADING = 13;
const PDF_LINE_CHARS = 95;

/** The document as pages of ~500 words, each a list of lines (headings on their own line). */
function pdfPages(doc) {
  const pages = [];
  let lines = [doc.title];
  let words = 0;
  for (const b of doc.blocks) {
    if (words >= PAGE_WORDS) {
      pages.push(lines);
      lines = [];
      words = 0;
    }
    if (b.heading) lines.push(ascii(b.heading));
    else {
      lines.push(...wrap(ascii(b.text.replace(/\*\*/g, '')), PDF_LINE_CHARS));
      words += b.words;
    }
  }
  if (lines.length > 0) pages.push(lines);
  return pages;
}

function ascii(s) {
  return s
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/[^\x20-\x7e]/g, '');
}

function wrap(s, width) {
  const out = [];
  let line = '';
  for (const w of s.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

// ————— numbers and the report —————

function stats(ms) {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))], 1);
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), mean: round(ms.reduce((x, y) => x + y, 0) / ms.length, 1), n: ms.length };
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function round(x, d) {
  return Number(x.toFixed(d));
}

function report(out) {
  const lines = [`\`${out.command}\``, '', `load average at start ${out.loadavg_start.join(' / ')}, at end ${out.loadavg_end.join(' / ')} (2 cores)`];
  const ing = [out.markdown && ['markdown', out.markdown], out.pdf && ['pdf', out.pdf]].filter(Boolean);
  if (ing.length > 0) {
    lines.push(
      '',
      '| ingest (USE-lite, default chunking: 256-token chunks embedded as ~96-token passages; upload → all ready) | docs | pages | chunks | MB | upload+parse s | total s | docs/s | pages/s | chunks/s | MB/s | parse alone ms/page | parse share |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...ing.map(
        ([k, r]) =>
          `| ${k} | ${r.documents} | ${r.pages} | ${r.chunks} | ${r.mb} | ${r.upload_seconds} | ${r.total_seconds} | ${r.docs_per_second} | ${r.pages_per_second} | ${r.chunks_per_second} | ${r.mb_per_second} | ${r.parse_ms_per_page} | ${round(r.parse_share * 100, 1)} % |`,
      ),
      '',
      `A markdown page is 500 words; pdf pages are the files' real pages (~500 words each). Uploads: ${ing[0][1].files_per_request} files per request, 2 requests in flight. ` +
        '"parse alone": every file parsed again on the gateway\'s parser thread after ingestion, the share is that time over the total.',
    );
  }
  const s = out.search;
  if (s) {
    lines.push(
      '',
      `| search over ${s.chunks} chunks (${s.documents} documents), c=1, top_k 8, highlights on | p50 ms | p95 ms | p99 ms | mean ms | hits |`,
      '|---|---|---|---|---|---|',
      ...[
        ['hybrid, fresh questions (query embedded)', s.hybrid_query_embedded],
        ['hybrid, same questions (query vector from the LRU)', s.hybrid_vector_cached],
        ['lexical only (full text)', s.lexical],
        ['vector only (query vector from the LRU)', s.vector_cached],
        [`hybrid without highlights (first ${s.hybrid_no_highlights.n} questions)`, s.hybrid_no_highlights],
      ].map(([k, r]) => `| ${k} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.mean} | ${r.mean_hits} |`),
      '',
      `${s.queries} LoCoMo questions. Seeded through SQL and the vector store in ${s.seed_seconds} s (${s.seed_chunks_per_second} chunks/s), then ` +
        `documents, chunks, chunk_lexemes and the vector table vacuumed and analysed once (${s.analyze_seconds} s), as autovacuum (or, on PGlite, the gateway after every 5,000 rows written) would, and ${s.warm_queries} other questions asked once (the database's caches as on a serving gateway, for every row alike); ` +
        `a question's full-text query (any of its words) matches ${s.lexical_matches.p50} chunks at the median, ${s.lexical_matches.p95} at p95 ` +
        '(speaker names open every turn, so a question naming a speaker matches most chunks of that conversation); ' +
        `${s.hnsw === 'rebuild' ? `HNSW index built once after the rows (${s.hnsw_build_seconds} s)` : 'HNSW index updated row by row'}; chunk texts are LoCoMo passages; vectors: ${s.vectors} (${s.base_passages} base passages embedded in ${s.base_embed_seconds} s). ` +
        `Target hybrid p95 ≤ ${s.target_p95_ms} ms: ${s.target_met ? 'met' : 'not met'}.`,
    );
  }
  const r = out.rss;
  if (r) {
    lines.push(
      '',
      `| RSS of the gateway process during a ${r.mb} MB upload (${r.files} markdown files) | MB |`,
      '|---|---|',
      `| baseline (started, idle) | ${r.baseline_rss_mb} |`,
      `| peak during the upload (${r.upload_seconds} s, parse included) | ${r.peak_rss_upload_mb} |`,
      `| peak through the upload and ${r.ingest_minutes_sampled} min of ingestion (sampled every 200 ms) | ${r.peak_rss_mb} |`,
      `| VmHWM (kernel's peak since start) | ${r.vm_hwm_mb} |`,
      `| at the end | ${r.end_rss_mb} |`,
      '',
      `Measured: ${
        r.all_ready
          ? 'the whole ingestion, every document ready'
          : r.ingest_minutes_sampled === 0
            ? 'the upload only (receive, parse, queue; --upload-only)'
            : `the upload and ${r.ingest_minutes_sampled} min of ingestion (${r.documents_ready}/${r.files} documents ready, ${r.chunks_ready} chunks)`
      }, ` + `${r.files_per_request} files per request, ${r.concurrency} requests in flight. Target < ${r.target_mb} MB: ${r.target_met ? 'met' : 'not met'}.`,
    );
  }
  return lines.join('\n');
}

if (process.argv[2] === '--serve-child') await serveChild(process.argv[3], JSON.parse(process.argv[4] ?? 'null') ?? undefined);
else if (import.meta.url === pathToFileURL(process.argv[1]).href) await runKnowledgeBench();
