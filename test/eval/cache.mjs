#!/usr/bin/env node
/**
 * Semantic cache thresholds on labelled question pairs: how many true paraphrases a similarity
 * threshold lets hit, and how many near-misses (questions that must not share an answer) hit too —
 * without and with the lexical guard (src/cache/guard.ts).
 *
 *   npm run eval:cache -- [--fixture PATH] [--thresholds 0.8,0.85,0.9]
 *
 * Pairs: test/fixtures/cache-pairs.jsonl, one {"a","b","label":"paraphrase"|"near_miss","category"}
 * a line. Both sides are embedded with the gateway's default embedder (configSchema's defaults, as
 * gateway.ts builds it), kind 'query'; similarity = dot of the unit vectors. A pair hits at threshold
 * t when similarity ≥ t (and, with the guard, when guardMatch(a, b) passes). For each threshold
 * (default 0.70 to 0.99 by 0.01): true hits (paraphrases hit), false hits (near-misses hit),
 * precision = true / (true + false) (null without hits), recall = true hits / paraphrases, and false
 * hits per near-miss category. Recommended, per mode: among thresholds with no false hit, the best
 * recall; of equal recalls the highest threshold (the most margin for the same hits); all fields null
 * when no threshold is free of false hits.
 *
 * Imports the built code (dist/); `npm run eval:cache` builds first. Prints markdown tables, and as
 * the last line one JSON object.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    fixture: { type: 'string', default: join(root, 'test/fixtures/cache-pairs.jsonl') },
    /** Comma-separated thresholds; default 0.70 … 0.99 by 0.01. */
    thresholds: { type: 'string' },
  },
});
const log = (...a) => console.error(...a);

for (const f of ['dist/src/embeddings/factory.js', 'dist/src/cache/guard.js', 'dist/src/config/schema.js']) {
  if (!existsSync(join(root, f))) throw new Error(`${f} is missing: npm run build first`);
}
const { createEmbedder } = await import(join(root, 'dist/src/embeddings/factory.js'));
const { dot } = await import(join(root, 'dist/src/embeddings/port.js'));
const { configSchema } = await import(join(root, 'dist/src/config/schema.js'));
const { guardMatch } = await import(join(root, 'dist/src/cache/guard.js'));

const thresholds = args.thresholds
  ? args.thresholds.split(',').map((s) => Number(s.trim()))
  : Array.from({ length: 30 }, (_, i) => Math.round((0.7 + i * 0.01) * 100) / 100);
if (thresholds.some((t) => !Number.isFinite(t) || t < -1 || t > 1)) throw new Error(`--thresholds: numbers in [-1, 1], got ${args.thresholds}`);

// ---------------------------------------------------------------- pairs

const pairs = readFileSync(resolve(args.fixture), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l, i) => {
    const p = JSON.parse(l);
    if (typeof p.a !== 'string' || typeof p.b !== 'string' || !['paraphrase', 'near_miss'].includes(p.label)) {
      throw new Error(`${args.fixture}:${i + 1}: want {"a","b","label":"paraphrase"|"near_miss","category"}`);
    }
    return p;
  });
const paraphrases = pairs.filter((p) => p.label === 'paraphrase');
const nearMisses = pairs.filter((p) => p.label === 'near_miss');
const categories = [...new Set(nearMisses.map((p) => p.category))].sort();

// ---------------------------------------------------------------- similarity and guard

const embeddings = configSchema.parse({}).embeddings;
const embedder = await createEmbedder({ ...embeddings, lazy: !embeddings.preload });
const texts = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
log(`embedding ${texts.length} texts with ${embedder.model} (${embeddings.kind})…`);
const t0 = performance.now();
const vectors = await embedder.embed(texts, { kind: 'query' });
const embedMs = performance.now() - t0;
const vectorOf = new Map(texts.map((t, i) => [t, vectors[i]]));
for (const p of pairs) {
  p.similarity = dot(vectorOf.get(p.a), vectorOf.get(p.b));
  p.verdict = guardMatch(p.a, p.b);
}
// Guard cost per call (both questions analysed from scratch), after one warm-up pass.
const ROUNDS = 20;
const g0 = performance.now();
for (let r = 0; r < ROUNDS; r++) for (const p of pairs) guardMatch(p.a, p.b);
const guardMicros = ((performance.now() - g0) * 1000) / (ROUNDS * pairs.length);

// ---------------------------------------------------------------- per threshold

const round = (x, d = 4) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

function score(t, useGuard) {
  const hit = (p) => p.similarity >= t && (!useGuard || p.verdict.ok);
  const trueHits = paraphrases.filter(hit).length;
  const falseList = nearMisses.filter(hit);
  const falseByCategory = Object.fromEntries(categories.map((c) => [c, falseList.filter((p) => p.category === c).length]));
  const hits = trueHits + falseList.length;
  return {
    true_hits: trueHits,
    false_hits: falseList.length,
    precision: hits === 0 ? null : round(trueHits / hits),
    recall: round(trueHits / paraphrases.length),
    false_hits_by_category: falseByCategory,
  };
}

const rows = thresholds.map((t) => ({ threshold: t, no_guard: score(t, false), guard: score(t, true) }));

function recommend(mode) {
  let best = { threshold: null, recall: null, precision: null };
  for (const r of rows) {
    const s = r[mode];
    if (s.false_hits > 0) continue;
    if (best.threshold === null || s.recall > best.recall || (s.recall === best.recall && r.threshold > best.threshold)) {
      best = { threshold: r.threshold, recall: s.recall, precision: s.precision };
    }
  }
  return best;
}
const recommended = { guard: recommend('guard'), no_guard: recommend('no_guard') };

const vetoed = paraphrases.filter((p) => !p.verdict.ok);
const caught = Object.fromEntries(
  categories.map((c) => {
    const set = nearMisses.filter((p) => p.category === c);
    return [c, { caught: set.filter((p) => !p.verdict.ok).length, total: set.length }];
  }),
);
const reasons = {};
for (const p of nearMisses) if (!p.verdict.ok) reasons[p.verdict.reason] = (reasons[p.verdict.reason] ?? 0) + 1;

// ---------------------------------------------------------------- report

const quantiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return s.length === 0 ? null : { min: round(s[0], 3), p10: round(q(0.1), 3), median: round(q(0.5), 3), p90: round(q(0.9), 3), max: round(s.at(-1), 3) };
};
const similarity = {
  paraphrase: quantiles(paraphrases.map((p) => p.similarity)),
  near_miss: quantiles(nearMisses.map((p) => p.similarity)),
  by_category: Object.fromEntries(categories.map((c) => [c, quantiles(nearMisses.filter((p) => p.category === c).map((p) => p.similarity))])),
};

const fmt = (x) => (x === null ? '–' : x.toFixed(3));
const out = [];
out.push(`## Semantic cache thresholds — ${pairs.length} pairs (${paraphrases.length} paraphrases, ${nearMisses.length} near-misses), ${embedder.model}`);
out.push('');
out.push('| threshold | true hits | false hits | precision | recall | guard: true hits | false hits | precision | recall |');
out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const n = r.no_guard;
  const g = r.guard;
  out.push(
    `| ${r.threshold.toFixed(2)} | ${n.true_hits} | ${n.false_hits} | ${fmt(n.precision)} | ${fmt(n.recall)} | ${g.true_hits} | ${g.false_hits} | ${fmt(g.precision)} | ${fmt(g.recall)} |`,
  );
}
out.push('');
out.push('False hits per near-miss category (without guard / with guard):');
out.push('');
out.push(`| threshold | ${categories.join(' | ')} |`);
out.push(`|---:|${categories.map(() => '---:').join('|')}|`);
for (const r of rows) {
  out.push(
    `| ${r.threshold.toFixed(2)} | ${categories.map((c) => `${r.no_guard.false_hits_by_category[c]} / ${r.guard.false_hits_by_category[c]}`).join(' | ')} |`,
  );
}
out.push('');
out.push('Similarity (min / p10 / median / p90 / max):');
out.push('');
out.push('| pairs | min | p10 | median | p90 | max |');
out.push('|---|---:|---:|---:|---:|---:|');
const simRow = (name, q) => (q ? `| ${name} | ${q.min} | ${q.p10} | ${q.median} | ${q.p90} | ${q.max} |` : `| ${name} | – | – | – | – | – |`);
out.push(simRow('paraphrase', similarity.paraphrase));
out.push(simRow('near_miss', similarity.near_miss));
for (const c of categories) out.push(simRow(`near_miss/${c}`, similarity.by_category[c]));
out.push('');
const rec = (r) =>
  r.threshold !== null
    ? `threshold ${r.threshold.toFixed(2)}, recall ${fmt(r.recall)}, precision ${fmt(r.precision)}`
    : 'none (every threshold has a false hit)';
out.push(`Recommended without guard: ${rec(recommended.no_guard)}`);
out.push(`Recommended with guard:    ${rec(recommended.guard)}`);
out.push(
  `Guard alone: vetoes ${vetoed.length}/${paraphrases.length} paraphrases; catches ${categories.map((c) => `${c} ${caught[c].caught}/${caught[c].total}`).join(', ')}; ${guardMicros.toFixed(1)} µs per call`,
);
for (const p of vetoed) out.push(`  vetoed paraphrase (${p.verdict.reason}): ${p.a} | ${p.b}`);
console.log(out.join('\n'));

console.log(
  JSON.stringify({
    pairs: pairs.length,
    paraphrases: paraphrases.length,
    near_misses: nearMisses.length,
    embedder: embedder.model,
    fixture: resolve(args.fixture),
    embed_ms: Math.round(embedMs),
    rows,
    recommended,
    similarity,
    guard: {
      paraphrase_rejections: {
        count: vetoed.length,
        rate: round(vetoed.length / paraphrases.length),
        pairs: vetoed.map((p) => ({ a: p.a, b: p.b, reason: p.verdict.reason })),
      },
      near_misses_caught_by_category: caught,
      near_miss_reasons: reasons,
      micros_per_call: round(guardMicros, 1),
    },
  }),
);
await embedder.close();
