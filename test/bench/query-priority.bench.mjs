#!/usr/bin/env node
/**
 * How long a question waits to be embedded while documents are being ingested, with and without the
 * USE-lite pool's query priority, side by side in one run.
 *
 *   npm run build && node test/bench/query-priority.bench.mjs [--seconds 30] [--documents 2] [--data DIR]
 *
 * The pool (2 threads) embeds `--documents` streams of passages the way the ingestor does (32 ~96-token
 * passages per call, awaited, one call after another per document). Every 100 ms a LoCoMo question
 * never asked before is embedded, alternately as a query (`kind: 'query'`, served ahead of the
 * passages queued) and with no kind (first come, first served, as every text was before the priority).
 * Reports each one's latency p50/p95/p99 and the passages/s the ingestion kept.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argValue, fromDist, repoRoot } from './lib/harness.mjs';

const args = process.argv.slice(2);
const SECONDS = Number(argValue(args, 'seconds', '30'));
const DOCUMENTS = Number(argValue(args, 'documents', '2'));
const DATA = argValue(args, 'data', join(repoRoot, '../shared/bench/locomo'));

const turns = [];
const questions = [];
for (const f of readdirSync(DATA).filter((f) => f.endsWith('.json')).sort()) {
  const raw = JSON.parse(readFileSync(join(DATA, f), 'utf8'));
  for (const sample of Array.isArray(raw) ? raw : [raw]) {
    const conv = sample.conversation ?? sample;
    for (const [k, v] of Object.entries(conv)) if (/^session_\d+$/.test(k) && Array.isArray(v)) for (const t of v) turns.push(`${t.speaker}: ${t.text}`);
    for (const qa of sample.qa ?? []) if (typeof qa?.question === 'string') questions.push(qa.question);
  }
}
// Passages of ~70 words (~96 tokens), as the default chunking embeds them.
const passages = [];
for (let i = 0, p = ''; i < turns.length; i++) {
  p = p ? `${p}\n${turns[i]}` : turns[i];
  if (p.split(/\s+/).length >= 70) {
    passages.push(p);
    p = '';
  }
}

const { createUseLiteEmbedder } = await fromDist('src/embeddings/use-lite/pool.js');
const embedder = await createUseLiteEmbedder({ threads: 2 });
const end = Date.now() + SECONDS * 1000;
let embedded = 0;
const ingest = async (offset) => {
  for (let i = offset; Date.now() < end; i = (i + 32) % (passages.length - 32)) {
    await embedder.embed(passages.slice(i, i + 32), { kind: 'document' });
    embedded += 32;
  }
};
const streams = Array.from({ length: DOCUMENTS }, (_, d) => ingest(d * 997));
// Let the ingestion fill the queue before the first question.
await new Promise((r) => setTimeout(r, 1000));

const latency = { query: [], none: [] };
let q = 0;
while (Date.now() < end - 500) {
  const kind = q % 2 === 0 ? 'query' : 'none';
  const text = questions[q++ % questions.length];
  const t = performance.now();
  await embedder.embed([text], kind === 'query' ? { kind: 'query' } : undefined);
  latency[kind].push(performance.now() - t);
  await new Promise((r) => setTimeout(r, 100));
}
await Promise.all(streams);
await embedder.close();

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(1);
const row = (name, xs) => `| ${name} | ${pct(xs, 0.5)} | ${pct(xs, 0.95)} | ${pct(xs, 0.99)} | ${xs.length} |`;
console.log(
  [
    `USE-lite pool, 2 threads, ${DOCUMENTS} documents ingesting (32 passages per call, ~70 words each; ${Math.round(embedded / SECONDS)} passages/s), a new question every 100 ms for ${SECONDS} s:`,
    '',
    '| question embedded | p50 ms | p95 ms | p99 ms | n |',
    '|---|---:|---:|---:|---:|',
    row("as a query (`kind: 'query'`: ahead of the passages queued)", latency.query),
    row('with no kind (first come, first served)', latency.none),
    '',
    `\`node test/bench/query-priority.bench.mjs ${args.join(' ')}\``.replace(' `', '`'),
  ].join('\n'),
);
console.log(JSON.stringify({ bench: 'query-priority', seconds: SECONDS, documents: DOCUMENTS, passages_per_second: Math.round(embedded / SECONDS), query: latency.query.length, none: latency.none.length, p50: { query: Number(pct(latency.query, 0.5)), none: Number(pct(latency.none, 0.5)) }, p95: { query: Number(pct(latency.query, 0.95)), none: Number(pct(latency.none, 0.95)) } }));
