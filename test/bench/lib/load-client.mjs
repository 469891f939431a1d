#!/usr/bin/env node
// Load client for OpenAI-style chat completions, streaming or not (derived from
// shared/bench/peers/sse-client.mjs, same measurement rules). Per request: TTFB (response
// headers), TTFT (first SSE `data:` event carrying "content"; for JSON, the first body byte) and
// total time. Closed loop (--c workers back to back) or open loop (--rate R starts per second on a
// fixed schedule, in-flight capped at --c, the excess counted as dropped). Bounded in time.
// Loopback targets only.
//
// Session rotation: --session-pool N --session-prefix P gives request k the body field
// session_id = `${P}-${k % N}`, so every request of the session target goes through history
// read + transcript append; the x-session-history-turns response header is summarised.
//
// usage: node load-client.mjs --url URL --body-file body.json [--header 'k: v']... [--stream]
//          [--c 16] [--duration 6] [--warmup 2] [--rate R] [--session-pool 64 --session-prefix p]
//          [--timeline FILE]
// prints one JSON line. --timeline writes one line per measured request, "start_ms total_ms status"
// (start from the measured run's start): where in time the slow requests were.
import fs from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = { headers: {}, stream: false, c: 1, duration: 6, max: 2_000_000, warmup: 2, rate: 0, label: '', sessionPool: 0, sessionPrefix: '', timeline: '' };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--url') opt.url = args[++i];
  else if (a === '--header') {
    const h = args[++i];
    opt.headers[h.slice(0, h.indexOf(':')).trim().toLowerCase()] = h.slice(h.indexOf(':') + 1).trim();
  } else if (a === '--stream') opt.stream = true;
  else if (a === '--c') opt.c = Number(args[++i]);
  else if (a === '--duration') opt.duration = Number(args[++i]);
  else if (a === '--max') opt.max = Number(args[++i]);
  else if (a === '--warmup') opt.warmup = Number(args[++i]);
  else if (a === '--rate') opt.rate = Number(args[++i]);
  else if (a === '--label') opt.label = args[++i];
  else if (a === '--body-file') opt.bodyFile = args[++i];
  else if (a === '--session-pool') opt.sessionPool = Number(args[++i]);
  else if (a === '--session-prefix') opt.sessionPrefix = args[++i];
  else if (a === '--timeline') opt.timeline = args[++i];
  else {
    console.error('unknown arg', a);
    process.exit(2);
  }
}
if (!opt.url) {
  console.error('--url required');
  process.exit(2);
}
const u = new URL(opt.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
  console.error('refusing non-loopback target', u.hostname);
  process.exit(2);
}
opt.duration = Math.min(opt.duration, 120);
opt.rate = Math.min(opt.rate, 20_000);

const base = opt.bodyFile ? JSON.parse(fs.readFileSync(opt.bodyFile, 'utf8')) : { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] };
if (opt.stream) base.stream = true;
else delete base.stream;
// Bodies are built once: the client must not be the bottleneck.
const bodies =
  opt.sessionPool > 0
    ? Array.from({ length: opt.sessionPool }, (_, i) => Buffer.from(JSON.stringify({ ...base, session_id: `${opt.sessionPrefix}-${i}` })))
    : [Buffer.from(JSON.stringify(base))];
const agent = new http.Agent({ keepAlive: true, maxSockets: opt.c + 4 });
let seq = 0;

function once() {
  const body = bodies[seq++ % bodies.length];
  return new Promise((resolve) => {
    const t0 = performance.now();
    let ttfb = -1;
    let ttft = -1;
    let events = 0;
    let history = -1;
    const fail = () => resolve({ ok: false, status: -1, start: t0, ttfb, ttft, total: performance.now() - t0, events, history });
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...opt.headers },
      },
      (res) => {
        ttfb = performance.now() - t0;
        const h = res.headers['x-session-history-turns'];
        if (h !== undefined) history = Number(h);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          if (opt.stream) {
            buf += d;
            for (let idx = buf.indexOf('\n\n'); idx >= 0; idx = buf.indexOf('\n\n')) {
              const ev = buf.slice(0, idx);
              buf = buf.slice(idx + 2);
              if (ev.startsWith('data:')) {
                events++;
                if (ttft < 0 && ev.includes('"content"')) ttft = performance.now() - t0;
              }
            }
          } else if (ttft < 0) ttft = performance.now() - t0;
        });
        res.on('end', () =>
          resolve({
            ok: res.statusCode === 200 && (!opt.stream || events > 0),
            status: res.statusCode,
            start: t0,
            ttfb,
            ttft,
            total: performance.now() - t0,
            events,
            history,
          }),
        );
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

async function runOpen(seconds, record) {
  const results = [];
  let issued = 0;
  let inflight = 0;
  let dropped = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const pending = [];
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(opt.max, Math.floor(((Math.min(now, end) - t0) / 1000) * opt.rate));
      while (issued < due) {
        issued++;
        if (inflight >= opt.c) {
          dropped++;
          continue;
        }
        inflight++;
        pending.push(
          once().then((r) => {
            inflight--;
            if (record) results.push(r);
          }),
        );
      }
      if (now >= end || issued >= opt.max) {
        Promise.all(pending).then(resolve);
        return;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  return { results, elapsed: (performance.now() - t0) / 1000, dropped };
}

async function runClosed(seconds, record) {
  const deadline = performance.now() + seconds * 1000;
  let issued = 0;
  const results = [];
  async function worker() {
    while (performance.now() < deadline && issued < opt.max) {
      issued++;
      const r = await once();
      if (record) results.push(r);
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opt.c }, worker));
  return { results, elapsed: (performance.now() - t0) / 1000, dropped: 0 };
}

const run = (s, record) => (opt.rate > 0 ? runOpen(s, record) : runClosed(s, record));

function pct(sorted, p) {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const r3 = (x) => Math.round(x * 1000) / 1000;
function summary(vals) {
  const s = vals.filter((v) => v >= 0).sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { p50: r3(pct(s, 50)), p90: r3(pct(s, 90)), p99: r3(pct(s, 99)), max: r3(s[s.length - 1] ?? Number.NaN), mean: r3(mean) };
}

if (opt.warmup > 0) await run(opt.warmup, false);
const measuredFrom = performance.now();
const { results, elapsed, dropped } = await run(opt.duration, true);
if (opt.timeline) {
  fs.writeFileSync(
    opt.timeline,
    `# start ${new Date(performance.timeOrigin + measuredFrom).toISOString()}\n` +
      results.map((r) => `${(r.start - measuredFrom).toFixed(3)} ${r.total.toFixed(3)} ${r.status}\n`).join(''),
  );
}
const ok = results.filter((r) => r.ok);
const hist = ok.map((r) => r.history).filter((h) => h >= 0);
const out = {
  label: opt.label,
  stream: opt.stream,
  concurrency: opt.c,
  duration_s: r3(elapsed),
  ...(opt.rate > 0 ? { offered_rate: opt.rate, dropped } : {}),
  requests: results.length,
  ok: ok.length,
  errors: results.length - ok.length,
  rps: Math.round((ok.length / elapsed) * 100) / 100,
  ttfb_ms: summary(ok.map((r) => r.ttfb)),
  ttft_ms: summary(ok.map((r) => r.ttft)),
  total_ms: summary(ok.map((r) => r.total)),
  events_per_resp: ok.length ? r3(ok.reduce((a, r) => a + r.events, 0) / ok.length) : 0,
  status_codes: results.reduce((m, r) => {
    m[r.status] = (m[r.status] || 0) + 1;
    return m;
  }, {}),
  ...(hist.length ? { history_turns: { mean: r3(hist.reduce((a, b) => a + b, 0) / hist.length), max: hist.reduce((a, b) => Math.max(a, b), 0) } } : {}),
};
console.log(JSON.stringify(out));
agent.destroy();
