#!/usr/bin/env node
// Top self-time functions of a V8 .cpuprofile (node --cpu-prof), and self time grouped by origin
// (a src/ file of ours, a node_modules package, node: internals, GC, idle).
// usage: node cpuprofile-top.mjs file.cpuprofile [--top 25]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function topSelf(profile, { top = 25, windows = null } = {}) {
  const { nodes, samples, timeDeltas, startTime, endTime } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // windows: [[fromMs, toMs], …] relative to the profile's start; samples outside are ignored.
  const inWindow = (tMs) => !windows || windows.some(([a, b]) => tMs >= a && tMs < b);
  const self = new Map();
  const incl = new Map();
  let t = startTime;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    const dt = timeDeltas[i + 1] ?? 0;
    if (!inWindow((t - startTime) / 1000)) continue;
    total += dt;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
    // Inclusive time of our own functions (dist/src), each counted once per sample.
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id).callFrame;
      if (!cf.url.includes('/dist/src/')) continue;
      const key = `${cf.functionName || '(anonymous)'} ${location(cf.url)}:${cf.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + dt);
    }
  }
  total ||= endTime - startTime || 1;
  const fns = new Map();
  const origins = new Map();
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    const where = location(cf.url);
    const key = `${cf.functionName || '(anonymous)'} ${where}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const o = origin(cf);
    origins.set(o, (origins.get(o) ?? 0) + us);
  }
  const busy = [...self.entries()].filter(([id]) => byId.get(id).callFrame.functionName !== '(idle)').reduce((a, [, us]) => a + us, 0) || 1;
  const rows = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, us]) => ({ what: k, ms: Math.round(us / 1000), pct_total: +((us / total) * 100).toFixed(1), pct_busy: +((us / busy) * 100).toFixed(1) }));
  return {
    duration_ms: Math.round(total / 1000),
    busy_ms: Math.round(busy / 1000),
    functions: rows(fns).slice(0, top),
    origins: rows(origins).slice(0, top),
    ours_inclusive: rows(incl).slice(0, top),
  };
}

function location(url) {
  if (!url) return '';
  const p = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length);
  const d = p.indexOf('/dist/');
  return d >= 0 ? p.slice(d + 1) : path.basename(p);
}

function origin(cf) {
  const n = cf.functionName;
  if (n === '(idle)' || n === '(garbage collector)' || n === '(program)') return n;
  const url = cf.url;
  if (!url) return '(native / V8 builtins)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const p = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = p.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const d = p.indexOf('/dist/');
  return d >= 0 ? p.slice(d + 1) : p;
}

export function formatTop(r, title = '') {
  const out = [];
  if (title) out.push(`#### ${title}`, '');
  out.push(`profiled window ${r.duration_ms} ms, busy (not idle) ${r.busy_ms} ms`, '', '| self ms | % of busy | function |', '|---:|---:|---|');
  for (const f of r.functions) out.push(`| ${f.ms} | ${f.pct_busy} | \`${f.what}\` |`);
  out.push('', '| self ms | % of busy | origin |', '|---:|---:|---|');
  for (const f of r.origins) out.push(`| ${f.ms} | ${f.pct_busy} | ${f.what} |`);
  out.push('', '| inclusive ms | % of busy | our function (self + callees) |', '|---:|---:|---|');
  for (const f of r.ours_inclusive) out.push(`| ${f.ms} | ${f.pct_busy} | \`${f.what}\` |`);
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = process.argv[2];
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  console.log(formatTop(topSelf(JSON.parse(fs.readFileSync(file, 'utf8')), { top }), path.basename(file)));
}
