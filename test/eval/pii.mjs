#!/usr/bin/env node
/**
 * PII detectors on labelled chat messages: precision and recall per type.
 *
 *   npm run eval:pii -- [--fixture PATH] [--custom PATH]
 *
 * Messages: test/fixtures/pii/labelled.jsonl, one {"text","spans":[{"type","text"}],"source"} a line (no
 * spans: a hard negative; `source` says how the line was made — "template" lines were generated from
 * the formats the detectors were written for, "handwritten" ones were written apart, and scored
 * before the detectors were tuned on them — and gets its own totals). Custom patterns: test/fixtures/pii/custom.json, an array of {name, pattern, flags?},
 * detected as type `custom`. Every type is looked for in every message. A detection is a true positive
 * when a labelled span of the same message has the same type and the same text (counted as multisets,
 * so a value written twice must be found twice); anything else detected is a false positive, anything
 * labelled and not detected a false negative. Precision = TP / (TP + FP) (null when nothing was
 * detected), recall = TP / (TP + FN) (null when nothing was labelled).
 *
 * Imports the built code (dist/); `npm run eval:pii` builds first. Prints a markdown table and the
 * errors, and as the last line one JSON object.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    fixture: { type: 'string', default: join(root, 'test/fixtures/pii/labelled.jsonl') },
    custom: { type: 'string', default: join(root, 'test/fixtures/pii/custom.json') },
  },
});

const built = 'dist/src/governance/pii/detectors.js';
if (!existsSync(join(root, built))) throw new Error(`${built} is missing: npm run build first`);
const { detectPii } = await import(join(root, built));
const { PII_TYPES } = await import(join(root, 'dist/src/governance/pii/types.js'));

const custom = JSON.parse(readFileSync(resolve(args.custom), 'utf8'));
const lines = readFileSync(resolve(args.fixture), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l, i) => {
    const x = JSON.parse(l);
    if (typeof x.text !== 'string' || !Array.isArray(x.spans) || x.spans.some((s) => !PII_TYPES.includes(s.type) || typeof s.text !== 'string')) {
      throw new Error(`${args.fixture}:${i + 1}: want {"text","spans":[{"type","text"}]} with types ${PII_TYPES.join(', ')}`);
    }
    return x;
  });

const opts = { types: PII_TYPES, custom };
const key = (s) => `${s.type}\u0000${s.text}`;
const stats = Object.fromEntries(PII_TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0, labelled: 0 }]));
const sources = {};
const errors = [];

const t0 = performance.now();
const predictions = lines.map((l) => detectPii(l.text, opts));
const micros = ((performance.now() - t0) * 1000) / lines.length;

lines.forEach((l, i) => {
  const name = l.source ?? 'unspecified';
  sources[name] ??= { messages: 0, tp: 0, fp: 0, fn: 0 };
  const src = sources[name];
  src.messages++;
  const gold = new Map();
  for (const s of l.spans) {
    gold.set(key(s), (gold.get(key(s)) ?? 0) + 1);
    stats[s.type].labelled++;
  }
  for (const p of predictions[i]) {
    const k = key(p);
    const left = gold.get(k) ?? 0;
    if (left > 0) {
      gold.set(k, left - 1);
      stats[p.type].tp++;
      src.tp++;
    } else {
      stats[p.type].fp++;
      src.fp++;
      errors.push({ kind: 'FP', type: p.type, value: p.text, text: l.text });
    }
  }
  for (const [k, n] of gold) {
    const [type, value] = k.split('\u0000');
    if (n > 0) {
      stats[type].fn += n;
      src.fn += n;
      errors.push({ kind: 'FN', type, value, text: l.text });
    }
  }
});

const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
const ratio = (a, b) => (b === 0 ? null : round(a / b));
const perType = Object.fromEntries(
  PII_TYPES.map((t) => {
    const s = stats[t];
    return [t, { ...s, precision: ratio(s.tp, s.tp + s.fp), recall: ratio(s.tp, s.tp + s.fn) }];
  }),
);
const sum = (f) => PII_TYPES.reduce((a, t) => a + stats[t][f], 0);
const all = { tp: sum('tp'), fp: sum('fp'), fn: sum('fn'), labelled: sum('labelled') };
all.precision = ratio(all.tp, all.tp + all.fp);
all.recall = ratio(all.tp, all.tp + all.fn);
for (const src of Object.values(sources)) {
  src.precision = ratio(src.tp, src.tp + src.fp);
  src.recall = ratio(src.tp, src.tp + src.fn);
}
const negatives = lines.filter((l) => l.spans.length === 0);
const negativesFlagged = negatives.filter((l) => predictions[lines.indexOf(l)].length > 0).length;

const fmt = (x) => (x === null ? '–' : x.toFixed(3));
const out = [];
out.push(`## PII detectors — ${lines.length} messages (${negatives.length} without PII), ${all.labelled} labelled spans`);
out.push('');
out.push('| type | labelled | TP | FP | FN | precision | recall |');
out.push('|---|---:|---:|---:|---:|---:|---:|');
for (const t of PII_TYPES) {
  const s = perType[t];
  out.push(`| ${t} | ${s.labelled} | ${s.tp} | ${s.fp} | ${s.fn} | ${fmt(s.precision)} | ${fmt(s.recall)} |`);
}
out.push(`| **all** | ${all.labelled} | ${all.tp} | ${all.fp} | ${all.fn} | ${fmt(all.precision)} | ${fmt(all.recall)} |`);
out.push('');
out.push(
  `By source: ${Object.entries(sources)
    .map(([k, v]) => `${k} (${v.messages} messages) precision ${fmt(v.precision)}, recall ${fmt(v.recall)}`)
    .join('; ')}`,
);
out.push(`Messages without PII flagged: ${negativesFlagged}/${negatives.length}; ${micros.toFixed(1)} µs per message (all types).`);
for (const e of errors) out.push(`  ${e.kind} ${e.type} "${e.value}": ${e.text.replace(/\n/g, ' ⏎ ')}`);
console.log(out.join('\n'));

console.log(
  JSON.stringify({
    fixture: resolve(args.fixture),
    messages: lines.length,
    negatives: negatives.length,
    negatives_flagged: negativesFlagged,
    micros_per_message: Math.round(micros * 10) / 10,
    per_type: perType,
    all,
    by_source: sources,
    errors,
  }),
);
