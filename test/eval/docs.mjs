#!/usr/bin/env node
/**
 * Document retrieval on LoCoMo through the collections API: evidence recall at a token budget and MRR,
 * for each search mode (lexical, vector, hybrid).
 *
 *   npm run eval:docs -- [--data DIR] [--budgets 1024,2048] [--chunk-tokens N] [--chunk-overlap N]
 *                        [--url URL --key KEY] [--concurrency N] [--limit N] [--keep DIR] [--verbose] [--small-k 8]
 *                        [--rerank-model Xenova/ms-marco-MiniLM-L-6-v2 [--rerank-model-dir DIR]]
 *
 * Corpus: every session of a conversation is one markdown document ("# Session N — <date>", then one
 * paragraph per turn, `<a id="D1:3"></a>**Speaker:** text [shares <caption>]` — turns rendered as
 * locomo.mjs renders them), in one collection per conversation. The script waits until every document
 * is ready; a failed one ends the run.
 *
 * Questions: categories 1–4 (5 is adversarial). Evidence ids are split on ; and , and normalised
 * ("D:11:26" → "D11:26", spaces dropped); ids that name no turn of the corpus are skipped and counted.
 * For each question and mode, POST /v1/collections/:id/search with top_k 50, then:
 *  - packing: the hits are taken best first while the running sum of their `tokens` fits the budget;
 *    a hit that does not fit is skipped and the next ones are still tried (a packer, not a cut-off).
 *    Overlapping chunks are counted in full each, as a context built from them would be.
 *  - a turn is found when its anchor `<a id="…"></a>` is inside a taken chunk's text. The anchor opens
 *    the turn's paragraph and the chunker never cuts inside it, so a turn split across two chunks is
 *    credited to the chunk that holds its beginning (and to an overlapping chunk that repeats it).
 *  - recall@B = share of the question's evidence turns found; MRR = mean of 1/rank of the first hit
 *    of the unbudgeted top 50 holding any evidence anchor (0 when none does).
 * Targets: hybrid recall@2048 ≥ 0.85, and hybrid recall strictly above both lexical and vector at
 * every budget. With --small-k N each question is also searched hybrid with top_k N, which brings fewer
 * candidates to the fusion: its recall and MRR are reported next to those of the first N of the top_k 50
 * list (what top_k N returned when every search brought 50), and how often the two lists are identical.
 *
 * Without --url the built gateway is started on an empty embedded database in a temporary directory
 * (--keep DIR keeps it and reuses its collections next time). With --url/--key the collections are
 * created in the key's tenant and deleted afterwards. The last line printed is one JSON object.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, call, pool, startGateway } from './lib.mjs';
const { values: args } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    budgets: { type: 'string', default: '1024,2048' },
    /** Questions per conversation, for a quick run. */
    limit: { type: 'string' },
    /** The collections' chunking (target, overlap and embedded passage tokens); unset, the gateway's defaults apply. */
    'chunk-tokens': { type: 'string' },
    'chunk-overlap': { type: 'string' },
    'passage-tokens': { type: 'string' },
    /** The started gateway's knowledge.search.lexicalWeight (its default otherwise). */
    'lexical-weight': { type: 'string' },
    /**
     * Also search hybrid with this small top_k (e.g. 8) and compare its hits with the first as many of the
     * top_k 50 search: a small top_k brings fewer candidates to the fusion (src/knowledge/search.ts).
     */
    'small-k': { type: 'string' },
    /**
     * A cross-encoder for the started gateway (knowledge.search.rerank: hub id, or a folder under
     * --rerank-model-dir): adds the mode "reranked", hybrid reranked by it, beside the others.
     */
    'rerank-model': { type: 'string' },
    'rerank-model-dir': { type: 'string' },
  },
});
const budgets = args.budgets.split(',').map(Number);
const smallK = args['small-k'] ? Number(args['small-k']) : 0;
const MODES = ['lexical', 'vector', 'hybrid', ...(args['rerank-model'] ? ['reranked'] : [])];
/** Candidates per search: the most the packer could want at these budgets, and the MRR horizon. */
const TOP_K = 50;
/** The budget the per-category breakdown and the recall target are read at. */
const TARGET_BUDGET = budgets.includes(2048) ? 2048 : Math.max(...budgets);
const CHUNKING_ARGS = { 'chunk-tokens': 'target_tokens', 'chunk-overlap': 'overlap_tokens', 'passage-tokens': 'passage_tokens' };
const chunkingEntries = Object.entries(CHUNKING_ARGS).filter(([arg]) => args[arg] !== undefined).map(([arg, field]) => [field, Number(args[arg])]);
const chunking = chunkingEntries.length > 0 ? Object.fromEntries(chunkingEntries) : undefined;
const log = (...a) => console.error(...a);

// ---------------------------------------------------------------- the gateway

// ---------------------------------------------------------------- the data

const anchor = (diaId) => `<a id="${diaId}"></a>`;

/** "D:11:26" → "D11:26", "D8:6 " → "D8:6"; anything else is returned as it is (and skipped if unknown). */
const normaliseEvidence = (e) => e.replace(/\s+/g, '').replace(/^D:(\d+):(\d+)$/, 'D$1:$2');

function loadConversation(file) {
  const d = JSON.parse(readFileSync(file, 'utf8'));
  const c = d.conversation ?? d;
  const name = `conv-${file.replace(/^.*\//, '').replace(/\.json$/, '')}`;
  const sessions = Object.keys(c)
    .map((k) => /^session_(\d+)$/.exec(k))
    .filter((m) => m && Array.isArray(c[m[0]]) && c[m[0]].length > 0)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const ids = new Set();
  const documents = sessions.map((n) => {
    const date = c[`session_${n}_date_time`];
    const title = `Session ${n} — ${date}`;
    const turns = c[`session_${n}`].map((t) => {
      ids.add(t.dia_id);
      // As locomo.mjs: a shared photo is part of what was said; its caption is the only text of it there is.
      const text = t.blip_caption ? `${t.text} [shares ${t.blip_caption}]` : t.text;
      return `${anchor(t.dia_id)}**${t.speaker}:** ${text}`;
    });
    return { title, text: `# ${title}\n\n${turns.join('\n\n')}\n`, format: 'markdown', external_id: `${name}/session_${n}`, metadata: { conversation: name, session: n } };
  });
  let unknownEvidence = 0;
  let noEvidence = 0;
  const qa = [];
  for (const q of d.qa ?? []) {
    if (q.category === 5) continue;
    const all = [...new Set(q.evidence.flatMap((e) => String(e).split(/[;,]/)).map(normaliseEvidence).filter(Boolean))];
    const evidence = all.filter((e) => ids.has(e));
    unknownEvidence += all.length - evidence.length;
    if (evidence.length === 0) noEvidence++;
    else qa.push({ question: q.question, category: q.category, evidence });
  }
  return { name, documents, qa: args.limit ? qa.slice(0, Number(args.limit)) : qa, unknownEvidence, noEvidence };
}

/** Hits best first, each taken while the running token sum fits `budget`; one that does not fit is skipped. */
function pack(hits, budget) {
  const taken = [];
  let tokens = 0;
  for (const h of hits) {
    if (tokens + h.tokens > budget) continue;
    taken.push(h);
    tokens += h.tokens;
  }
  return { taken, tokens };
}

// ---------------------------------------------------------------- the run

const files = readdirSync(args.data).filter((f) => f.endsWith('.json')).sort();
if (files.length === 0) throw new Error(`no .json files in ${args.data}`);

const gw = args.url ? { url: args.url, adminKey: args['admin-key'], stop: () => {} } : await startGateway({
      name: 'docs',
      keep: args.keep,
      config:
        args['lexical-weight'] || args['rerank-model']
          ? {
              knowledge: {
                search: {
                  ...(args['lexical-weight'] ? { lexicalWeight: Number(args['lexical-weight']) } : {}),
                  ...(args['rerank-model'] ? { rerank: { model: args['rerank-model'], candidates: TOP_K, ...(args['rerank-model-dir'] ? { modelDir: resolve(args['rerank-model-dir']) } : {}) } } : {}),
                },
              },
            }
          : undefined,
    });
const created = []; // collections to delete afterwards (--url only)
let key;
try {
  const keyFile = args.keep ? join(resolve(args.keep), 'eval-key.json') : undefined;
  key = args.key ?? (keyFile && existsSync(keyFile) ? JSON.parse(readFileSync(keyFile, 'utf8')).key : undefined);
  if (!key) {
    const res = await fetch(`${gw.url}/admin/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `docs-eval-${Date.now()}` }) });
    const tenant = await res.json();
    if (!res.ok) throw new Error(`cannot create a tenant: ${JSON.stringify(tenant)}`);
    key = (await call(gw.url, gw.adminKey, 'POST', '/admin/v1/keys', { tenant_id: tenant.id, name: 'eval' })).key;
    if (keyFile) writeFileSync(keyFile, JSON.stringify({ key }));
  }

  const t0 = Date.now();
  const convs = files.map((f) => loadConversation(join(args.data, f)));
  const existing = args.url ? [] : (await call(gw.url, key, 'GET', '/v1/collections')).data;
  const suffix = chunking ? `-t${chunking.target_tokens ?? 'd'}-o${chunking.overlap_tokens ?? 'd'}-p${chunking.passage_tokens ?? 'd'}` : '';

  // Upload every conversation first, so the ingestor embeds them all in one go.
  for (const conv of convs) {
    const name = args.url ? `docs-eval-${conv.name}${suffix}-${Date.now()}` : `docs-eval-${conv.name}${suffix}`;
    let col = existing.find((c) => c.name === name);
    if (!col) {
      col = await call(gw.url, key, 'POST', '/v1/collections', { name, ...(chunking ? { chunking } : {}) });
      if (args.url) created.push(col.id);
    }
    conv.collection = col;
    for (let i = 0; i < conv.documents.length; i += 100) {
      await call(gw.url, key, 'POST', `/v1/collections/${col.id}/documents`, { documents: conv.documents.slice(i, i + 100) });
    }
  }
  log(`${convs.reduce((s, c) => s + c.documents.length, 0)} documents uploaded to ${convs.length} collections (chunking ${JSON.stringify(convs[0].collection.chunking)}); waiting for ingestion…`);
  let lastLog = 0;
  for (;;) {
    const lists = await Promise.all(convs.map((c) => call(gw.url, key, 'GET', `/v1/collections/${c.collection.id}/documents`)));
    const docs = lists.flatMap((l) => l.data);
    const failed = docs.filter((d) => d.status === 'failed');
    if (failed.length) throw new Error(`ingestion failed: ${failed.map((d) => `${d.external_id}: ${d.error}`).join('; ')}`);
    const ready = docs.filter((d) => d.status === 'ready');
    for (const [i, c] of convs.entries()) c.chunks = lists[i].data.reduce((s, d) => s + d.chunk_count, 0);
    if (ready.length === docs.length) break;
    if (Date.now() - lastLog > 15_000) {
      log(`  ${ready.length}/${docs.length} documents ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      lastLog = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const ingestSeconds = (Date.now() - t0) / 1000;
  const documents = convs.reduce((s, c) => s + c.documents.length, 0);
  const chunks = convs.reduce((s, c) => s + c.chunks, 0);
  log(`ingested ${documents} documents into ${chunks} chunks in ${ingestSeconds.toFixed(1)} s`);

  const results = []; // { conv, category, mode, rr, recall: {B: r}, tokens: {B: t} }
  const tSearch = Date.now();
  for (const conv of convs) {
    const tasks = conv.qa.flatMap((q) => MODES.map((mode) => ({ q, mode })));
    await pool(tasks, Number(args.concurrency), async ({ q, mode }) => {
      const search = mode === 'reranked' ? { mode: 'hybrid', rerank: true } : { mode, ...(args['rerank-model'] ? { rerank: false } : {}) };
      const { data: hits } = await call(gw.url, key, 'POST', `/v1/collections/${conv.collection.id}/search`, { query: q.question, top_k: TOP_K, ...search, highlights: false });
      const holds = (h, e) => h.text.includes(anchor(e));
      const first = hits.findIndex((h) => q.evidence.some((e) => holds(h, e)));
      const r = { conv: conv.name, category: q.category, mode, rr: first === -1 ? 0 : 1 / (first + 1), recall: {}, tokens: {} };
      for (const b of budgets) {
        const { taken, tokens } = pack(hits, b);
        const found = q.evidence.filter((e) => taken.some((h) => holds(h, e)));
        r.recall[b] = found.length / q.evidence.length;
        r.tokens[b] = tokens;
        if (args.verbose && mode === 'hybrid' && b === TARGET_BUDGET && found.length < q.evidence.length) {
          const missing = q.evidence.filter((e) => !found.includes(e)).map((e) => {
            const rank = hits.findIndex((h) => holds(h, e));
            return `${e}${rank === -1 ? ' (not in top 50)' : ` (rank ${rank + 1})`}`;
          });
          log(`  miss [${conv.name} cat ${q.category}] ${q.question} → ${missing.join(', ')}`);
        }
      }
      if (smallK && mode === 'hybrid') {
        const { data: few } = await call(gw.url, key, 'POST', `/v1/collections/${conv.collection.id}/search`, { query: q.question, top_k: smallK, mode, highlights: false });
        const score = (list) => {
          const at = list.findIndex((h) => q.evidence.some((e) => holds(h, e)));
          return { recall: q.evidence.filter((e) => list.some((h) => holds(h, e))).length / q.evidence.length, rr: at === -1 ? 0 : 1 / (at + 1) };
        };
        r.small = { asked: score(few), prefix: score(hits.slice(0, smallK)), same: few.length === Math.min(smallK, hits.length) && few.every((h, i) => h.id === hits[i]?.id) };
      }
      results.push(r);
    });
    log(`${conv.name}: ${conv.documents.length} documents, ${conv.chunks} chunks, ${conv.qa.length} questions searched`);
  }

  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const round = (x, d = 3) => Number(x.toFixed(d));
  const modes = {};
  for (const mode of MODES) {
    const rs = results.filter((r) => r.mode === mode);
    modes[mode] = {};
    for (const b of budgets) modes[mode][`recall@${b}`] = round(mean(rs.map((r) => r.recall[b])));
    modes[mode].mrr = round(mean(rs.map((r) => r.rr)));
    for (const b of budgets) modes[mode][`tokens@${b}`] = round(mean(rs.map((r) => r.tokens[b])), 0);
    const small = rs.filter((r) => r.small);
    if (small.length > 0) {
      modes[mode][`top${smallK}`] = {
        asked: { recall: round(mean(small.map((r) => r.small.asked.recall))), mrr: round(mean(small.map((r) => r.small.asked.rr))) },
        first_of_top50: { recall: round(mean(small.map((r) => r.small.prefix.recall))), mrr: round(mean(small.map((r) => r.small.prefix.rr))) },
        identical_lists: round(mean(small.map((r) => (r.small.same ? 1 : 0)))),
      };
      log(`hybrid top_k ${smallK}: ${JSON.stringify(modes[mode][`top${smallK}`])}`);
    }
  }
  const hybridByCategory = {};
  for (const c of [1, 2, 3, 4]) {
    const rs = results.filter((r) => r.mode === 'hybrid' && r.category === c);
    if (rs.length) hybridByCategory[c] = { questions: rs.length, recall: round(mean(rs.map((r) => r.recall[TARGET_BUDGET]))) };
  }

  log('');
  log(`| mode | ${budgets.map((b) => `recall@${b}`).join(' | ')} | MRR | ${budgets.map((b) => `tokens@${b}`).join(' | ')} |`);
  log(`|---|${budgets.map(() => '---|').join('')}---|${budgets.map(() => '---|').join('')}`);
  for (const mode of MODES) {
    const m = modes[mode];
    log(`| ${mode} | ${budgets.map((b) => m[`recall@${b}`].toFixed(3)).join(' | ')} | ${m.mrr.toFixed(3)} | ${budgets.map((b) => m[`tokens@${b}`]).join(' | ')} |`);
  }
  log('');
  log(`hybrid recall@${TARGET_BUDGET} by category:`);
  log('| category | questions | recall |');
  log('|---|---|---|');
  for (const [c, v] of Object.entries(hybridByCategory)) log(`| ${c} | ${v.questions} | ${v.recall.toFixed(3)} |`);
  const unknownEvidence = convs.reduce((s, c) => s + c.unknownEvidence, 0);
  const noEvidence = convs.reduce((s, c) => s + c.noEvidence, 0);
  log(`\nskipped: ${unknownEvidence} evidence ids not in the corpus; ${noEvidence} questions left with no evidence`);

  const h = modes.hybrid;
  const summary = {
    eval: 'docs',
    questions: results.length / MODES.length,
    documents,
    chunks,
    chunking: convs[0].collection.chunking,
    modes,
    hybrid_by_category: hybridByCategory,
    skipped_evidence_ids: unknownEvidence,
    questions_without_evidence: noEvidence,
    seconds: { ingest: round(ingestSeconds, 1), search: round((Date.now() - tSearch) / 1000, 1) },
    target: {
      [`hybrid_recall@${TARGET_BUDGET}_ge_0.85`]: h[`recall@${TARGET_BUDGET}`] >= 0.85,
      hybrid_beats_both: budgets.every((b) => h[`recall@${b}`] > modes.lexical[`recall@${b}`] && h[`recall@${b}`] > modes.vector[`recall@${b}`]),
    },
  };
  console.log(JSON.stringify(summary));
} finally {
  for (const id of created) await call(gw.url, key, 'DELETE', `/v1/collections/${id}`).catch((err) => log(`cannot delete collection ${id}: ${err.message}`));
  gw.stop();
}
