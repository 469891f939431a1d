#!/usr/bin/env node
// Summarises the `--trace-gc` lines of a log (this gateway's, from a gateway bench run with
// `--keep-logs --ours-node-args "--trace-gc"`): over the last `window` ms of GC events (by default the
// 400 req/s cell's 11.5 s), how many scavenges, their pauses, how much the old space grew at each
// (what they promoted, less what was freed), and the other collections.
//
//   node test/bench/lib/gc-summary.mjs test/bench/.peers/logs/ours.log [window-ms]
import fs from 'node:fs';

const [file, windowArg = '11500'] = process.argv.slice(2);
if (!file) {
  console.error('usage: gc-summary.mjs <log with --trace-gc lines> [window-ms]');
  process.exit(2);
}
const GC_LINE = /\s(\d+) ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, ([\d.]+) \/ ([\d.]+) ms/;
const events = [];
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  const m = GC_LINE.exec(line);
  if (m) events.push({ at: Number(m[1]), kind: m[2], after: Number(m[5]), pause: Number(m[7]) });
}
if (events.length === 0) {
  console.error(`${file}: no --trace-gc lines`);
  process.exit(1);
}
const end = events[events.length - 1].at;
const inWindow = events.filter((e) => e.at >= end - Number(windowArg));
const scavenges = inWindow.filter((e) => e.kind === 'Scavenge');
const pauses = scavenges.map((e) => e.pause).sort((a, b) => a - b);
const at = (q) => pauses[Math.min(pauses.length - 1, Math.floor(q * pauses.length))] ?? 0;
const growth = scavenges
  .slice(1)
  .map((e, i) => e.after - scavenges[i].after)
  .sort((a, b) => a - b);
const others = inWindow.filter((e) => e.kind !== 'Scavenge');
console.log(
  [
    `last ${windowArg} ms of GC events: ${scavenges.length} scavenges`,
    `pause median ${at(0.5)} ms, p90 ${at(0.9)}, max ${pauses[pauses.length - 1] ?? 0}, total ${pauses.reduce((a, b) => a + b, 0).toFixed(1)}`,
    `heap growth per scavenge, median ${(growth[Math.floor(growth.length / 2)] ?? 0).toFixed(2)} MB`,
    `other collections: ${others.length === 0 ? 'none' : others.map((e) => `${e.kind} ${e.pause} ms`).join(', ')}`,
  ].join('; '),
);
