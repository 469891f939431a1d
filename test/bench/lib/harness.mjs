// Shared plumbing for the benches: the peers scratch folder, processes pinned to a CPU (stopped
// by the pids we recorded, never by name), /proc sampling, wrk and the Node load client.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '../..');
export const peersDir = path.join(benchDir, '.peers');
export const resultsDir = path.join(benchDir, 'results');
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The value after `--name` in `argv`, or `dflt`. */
export const argValue = (argv, name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};

/** A module of the built gateway (`npm run build` → dist/), e.g. `fromDist('src/gateway.js')`. */
export const fromDist = (p) => import(pathToFileURL(path.join(repoRoot, 'dist', p)).href);

/** Writes a bench's results — `results/<name>.json` (everything) and `results/<name>.md` (its report) — and prints the report. */
export function writeResults(name, out, md) {
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `${name}.json`), `${JSON.stringify(out, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, `${name}.md`), `${md}\n`);
  console.error(`\n${md}`);
}
export const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------------------------------------------------------------- peers (Portkey, fake upstream)

const PORTKEY_ENTRY = 'node_modules/@portkey-ai/gateway/build/start-server.js';
const HONO_FILE = 'node_modules/@hono/node-server/dist/index.mjs';
const HONO_PATCHED = 'return await responseViaResponseObject(res, outgoing, options);';

/**
 * Makes test/bench/.peers a ready copy of shared/bench/peers: files copied, `npm install`
 * (Portkey 1.15.2 with @hono/node-server pinned to 1.13.5), Portkey's one-line hono patch, wrk from
 * apt when missing. Idempotent and quick when already done.
 */
export function ensurePeers({ source = process.env.PEERS_SRC || path.resolve(repoRoot, '../shared/bench/peers') } = {}) {
  const ready = () =>
    fs.existsSync(path.join(peersDir, PORTKEY_ENTRY)) &&
    fs.existsSync(path.join(peersDir, HONO_FILE)) &&
    fs.readFileSync(path.join(peersDir, HONO_FILE), 'utf8').includes(HONO_PATCHED) &&
    fs.existsSync(path.join(peersDir, 'fake-upstream.mjs')) &&
    hasWrk();
  if (ready()) return;
  if (!fs.existsSync(path.join(source, 'setup.sh'))) {
    throw new Error(`peers harness not found at ${source}: set PEERS_SRC to a copy of shared/bench/peers`);
  }
  log(`setting up ${path.relative(repoRoot, peersDir)} from ${source} (npm install, hono patch, wrk)`);
  fs.mkdirSync(peersDir, { recursive: true });
  for (const f of fs.readdirSync(source)) {
    if (f === 'node_modules' || f === 'results' || f === 'logs') continue;
    fs.cpSync(path.join(source, f), path.join(peersDir, f), { recursive: true, force: true });
  }
  spawnSync('chmod', ['-R', 'u+w', peersDir]);
  const r = spawnSync('bash', ['setup.sh'], { cwd: peersDir, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`peers setup.sh failed (exit ${r.status})`);
  if (!ready()) throw new Error('peers setup incomplete: Portkey, the @hono/node-server patch or wrk is missing');
}

export function hasWrk() {
  return spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------- processes

const started = [];

/** Starts `cmd args` pinned to `cpu`, stdout+stderr to `logFile`. Returns { name, pid, proc }. */
export function startPinned(name, cpu, cmd, args, { env = {}, cwd = repoRoot, logFile } = {}) {
  const fd = fs.openSync(logFile, 'w');
  const proc = spawn('taskset', ['-c', String(cpu), cmd, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const entry = { name, pid: proc.pid, proc, logFile, exited: false, code: null, startedAt: Date.now() };
  proc.on('exit', (code, signal) => {
    entry.exited = true;
    entry.code = code ?? signal;
  });
  started.push(entry);
  return entry;
}

/** Stops one process we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProc(entry, graceMs = 8000) {
  if (!entry || entry.exited) return;
  const gone = new Promise((r) => entry.proc.once('exit', r));
  try {
    if (entry.paused) process.kill(entry.pid, 'SIGCONT');
    entry.paused = false;
    process.kill(entry.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(entry.pid, 'SIGKILL');
    } catch {}
  }, graceMs);
  await gone;
  clearTimeout(t);
}

/**
 * Freezes (SIGSTOP) every process in `entries` except `active`, which is resumed: an idle proxy's
 * background work (a GC of a heap grown under the previous load, a backlog still draining) must
 * not run on the CPU of the proxy being measured.
 */
export function only(active, entries) {
  for (const e of entries) {
    if (!e || e.exited) continue;
    const want = e === active;
    if (want === !e.paused) continue;
    try {
      process.kill(e.pid, want ? 'SIGCONT' : 'SIGSTOP');
      e.paused = !want;
    } catch {}
  }
}

export function resumeAll() {
  for (const e of started)
    if (e.paused && !e.exited) {
      try {
        process.kill(e.pid, 'SIGCONT');
      } catch {}
      e.paused = false;
    }
}

/**
 * Pins the local Postgres and Redis (every process and thread named `postgres` or `redis-server`; a
 * new Postgres backend inherits the postmaster's mask) to `cpu`, so a proxy pinned to the other core
 * has it to itself, as it would next to a database on another host. Unpinned, the kernel wakes a
 * backend on the core of the process that woke it: the proxy's. Returns the function that puts every
 * such process back on the CPUs the postmaster had (also run at exit). Does nothing, and says so, when
 * taskset cannot (another user's processes).
 */
export function pinServices(cpu) {
  const pids = () => [...processStats()].filter(([, p]) => SERVICES.includes(p.comm)).map(([pid]) => pid);
  const first = pids()[0];
  if (first === undefined) return () => {};
  const mask = spawnSync('taskset', ['-p', String(first)], { encoding: 'utf8' })
    .stdout.trim()
    .split(': ')
    .pop();
  const setAll = (args) => pids().filter((pid) => spawnSync('taskset', ['-a', '-p', ...args, String(pid)], { stdio: 'ignore' }).status !== 0).length;
  const failed = setAll(['-c', String(cpu)]);
  if (failed > 0) log(`could not pin ${failed} Postgres/Redis processes to CPU ${cpu}: they share the proxy's core`);
  let restored = false;
  const restore = () => {
    if (restored || !mask) return;
    restored = true;
    setAll([mask]);
  };
  process.once('exit', restore);
  return restore;
}

/** Waits (up to `maxMs`) until `pid` uses less than `pct` % of a CPU, e.g. a proxy draining a backlog. */
export async function settle(pid, { pct = 10, maxMs = 5000 } = {}) {
  if (!pid) return 0;
  const t0 = Date.now();
  for (;;) {
    const a = cpuTicks(pid);
    await sleep(200);
    const b = cpuTicks(pid);
    if (a == null || b == null || ((b - a) / 100 / 0.2) * 100 < pct || Date.now() - t0 > maxMs) break;
  }
  return Date.now() - t0;
}

export async function stopAll() {
  resumeAll();
  await Promise.all(
    started
      .splice(0)
      .reverse()
      .map((e) => stopProc(e)),
  );
}

export async function waitHttp(url, { timeoutMs = 60_000, entry } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (entry?.exited) throw new Error(`${entry.name} exited (${entry.code}) before ${url} answered; see ${entry.logFile}\n${tail(entry.logFile, 20)}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {}
    await sleep(150);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

export function pinSelf(cpu) {
  spawnSync('taskset', ['-pc', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

// ---------------------------------------------------------------- /proc sampling

export function readRssKb(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number((s.match(/VmRSS:\s+(\d+)/) || [])[1] || 0);
  } catch {
    return 0;
  }
}

/** VmRSS and VmHWM (the kernel's own peak) of a process, in bytes; undefined once it is gone. */
export function procStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

function cpuTicks(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/** Every process's command name, parent and CPU ticks (utime+stime; of reaped children too), from /proc. */
function processStats() {
  const procs = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) });
    } catch {}
  }
  return procs;
}

/** utime+stime ticks of every process whose command name is in `names` (e.g. postgres, redis-server). */
function ticksByComm(names) {
  const out = new Map();
  for (const [pid, p] of processStats()) if (names.includes(p.comm)) out.set(String(pid), p.ticks);
  return out;
}

/** Busy and total jiffies per CPU from /proc/stat. */
function cpuTimes() {
  const out = {};
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = line.match(/^cpu(\d+)\s+(.*)$/);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    const idle = v[3] + (v[4] || 0);
    out[m[1]] = { busy: v.reduce((a, b) => a + b, 0) - idle, total: v.reduce((a, b) => a + b, 0) };
  }
  return out;
}

/** Read-like and write-like syscalls made by a process so far (/proc/PID/io). */
function ioCalls(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    return { r: Number((s.match(/syscr:\s+(\d+)/) || [])[1]), w: Number((s.match(/syscw:\s+(\d+)/) || [])[1]) };
  } catch {
    return null;
  }
}

const SERVICES = ['postgres', 'redis-server'];

/** CPU ticks of everything on the machine that is neither this bench (itself, its children, reaped
 *  children) nor the local Postgres/Redis: other people's tests, builds… (user+nice+system of all CPUs). */
function foreignSnapshot() {
  const procs = processStats();
  const mine = (pid) => {
    for (let p = pid, i = 0; p > 1 && i < 64; i++) {
      if (p === process.pid) return true;
      p = procs.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const own = new Map();
  const svc = new Map();
  for (const [pid, p] of procs) {
    if (pid === process.pid) continue;
    if (mine(pid)) own.set(pid, p.ticks);
    else if (SERVICES.includes(p.comm)) svc.set(pid, p.ticks);
  }
  const self = procs.get(process.pid);
  let system = 0;
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    if (!line.startsWith('cpu ')) continue;
    const v = line.split(/\s+/).slice(1).map(Number);
    system = v[0] + v[1] + v[2];
  }
  return { own, svc, self: (self?.ticks ?? 0) + (self?.childTicks ?? 0), system };
}

function foreignTicks(a, b) {
  const delta = (m0, m1) => {
    let t = 0;
    for (const [pid, v] of m1) t += v - (m0.get(pid) ?? 0);
    return t;
  };
  // Our children that exited in between are in `self` (cutime+cstime once reaped).
  return b.system - a.system - (b.self - a.self) - delta(a.own, b.own) - delta(a.svc, b.svc);
}

/** CPU % (of one CPU) used by foreign processes over `ms`. */
export async function foreignCpuPct(ms = 500) {
  const a = foreignSnapshot();
  const t0 = Date.now();
  await sleep(ms);
  const b = foreignSnapshot();
  return Math.max(0, Math.round((foreignTicks(a, b) / 100 / ((Date.now() - t0) / 1000)) * 100));
}

/** Waits (up to `maxS`) until foreign processes use less than `pct` % of a CPU; returns the seconds
 *  waited beyond the first check. */
export async function waitQuiet({ pct = 20, maxS = 30, sampleMs = 500 } = {}) {
  const t0 = Date.now();
  while ((await foreignCpuPct(sampleMs)) >= pct && Date.now() - t0 < maxS * 1000) await sleep(500);
  return Math.max(0, Math.round((Date.now() - t0 - sampleMs) / 100) / 10);
}

/**
 * Samples a pid's RSS every 250 ms and its CPU time, plus the CPU time of the local Postgres and
 * Redis processes and the busy share of each CPU; stop() → { rss_mb_max, cpu_pct, services_cpu_pct, cpu_busy_pct }.
 */
export function sampler(pid) {
  let max = pid ? readRssKb(pid) : 0;
  const t0 = pid ? cpuTicks(pid) : null;
  const io0 = pid ? ioCalls(pid) : null;
  const s0 = ticksByComm(SERVICES);
  const f0 = foreignSnapshot();
  const c0 = cpuTimes();
  const w0 = Date.now();
  const timer = pid
    ? setInterval(() => {
        max = Math.max(max, readRssKb(pid));
      }, 250)
    : null;
  return {
    stop() {
      if (timer) clearInterval(timer);
      const wall = (Date.now() - w0) / 1000;
      const pct = (ticks) => Math.round((ticks / 100 / wall) * 100);
      let services = 0;
      for (const [p, t] of ticksByComm(SERVICES)) services += t - (s0.get(p) ?? 0);
      const c1 = cpuTimes();
      const cpuBusy = Object.fromEntries(
        Object.keys(c1).map((k) => [`cpu${k}`, Math.round(((c1[k].busy - (c0[k]?.busy ?? 0)) / Math.max(1, c1[k].total - (c0[k]?.total ?? 0))) * 100)]),
      );
      const out = { services_cpu_pct: pct(services), foreign_cpu_pct: Math.max(0, pct(foreignTicks(f0, foreignSnapshot()))), cpu_busy_pct: cpuBusy };
      if (!pid) return out;
      max = Math.max(max, readRssKb(pid));
      const t1 = cpuTicks(pid);
      const io1 = ioCalls(pid);
      const io = io0 && io1 ? { syscalls_read: io1.r - io0.r, syscalls_write: io1.w - io0.w } : {};
      return { rss_mb_max: +(max / 1024).toFixed(1), cpu_pct: t0 != null && t1 != null ? pct(t1 - t0) : null, ...io, ...out };
    },
  };
}

// ---------------------------------------------------------------- load tools

function checkLoopback(url) {
  if (!LOOPBACK.has(new URL(url).hostname)) throw new Error(`refusing non-loopback target ${url}`);
}

function run(cmd, args, env, timeoutS) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

function parseWrk(out) {
  const ms = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u] ?? 1);
  const lat = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$/gm)) lat[`p${m[1]}`] = +ms(m[2], m[3]).toFixed(3);
  const hist = out.match(/HISTORY_TURNS mean=([\d.]+) max=(\d+)/);
  const sock = (out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) || []).slice(1).map(Number);
  return {
    rps: Number((out.match(/Requests\/sec:\s+([\d.]+)/) || [])[1]),
    requests: Number((out.match(/(\d+) requests in/) || [])[1]),
    errors: Number((out.match(/Non-2xx or 3xx responses:\s+(\d+)/) || [0, 0])[1]) + sock.reduce((a, b) => a + b, 0),
    latency_ms: lat,
    ...(hist ? { history_turns: { mean: Number(hist[1]), max: Number(hist[2]) } } : {}),
  };
}

/**
 * wrk -t1 (closed loop, full-response latency) pinned to `cpu`. `target` = { url, headers,
 * bodyFile, session? }; session = { pool, prefix } rotates session ids.
 */
export async function wrk(target, { mode, c, duration, cpu }) {
  checkLoopback(target.url);
  const args = [
    '-c',
    String(cpu),
    'wrk',
    '-t1',
    `-c${c}`,
    `-d${duration}s`,
    '--timeout',
    '10s',
    '--latency',
    '-s',
    path.join(benchDir, 'lib/post.lua'),
    target.url,
  ];
  const env = {
    WRK_HEADERS: Object.entries(target.headers || {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
    STREAM: mode === 'stream' ? '1' : '0',
    BODY_FILE: target.bodyFile,
    SESSION_POOL: String(target.session?.pool ?? 0),
    SESSION_PREFIX: target.session?.prefix ?? '',
  };
  const r = await run('taskset', args, env, duration + 30);
  const res = parseWrk(r.out);
  if (!Number.isFinite(res.rps)) return { ...res, parse_error: true, stdout: r.out.slice(-400), stderr: r.err.slice(-400) };
  return res;
}

/** The Node load client (TTFB/TTFT; closed loop, or open loop with `rate`) pinned to `cpu`. */
export async function loadClient(target, { mode, c, duration, warmup = 2, rate = 0, cpu, timeline }) {
  checkLoopback(target.url);
  const args = [
    '-c',
    String(cpu),
    process.execPath,
    path.join(benchDir, 'lib/load-client.mjs'),
    '--url',
    target.url,
    '--body-file',
    target.bodyFile,
    '--c',
    String(c),
    '--duration',
    String(duration),
    '--warmup',
    String(warmup),
    ...(mode === 'stream' ? ['--stream'] : []),
    ...(rate ? ['--rate', String(rate)] : []),
    ...Object.entries(target.headers || {}).flatMap(([k, v]) => ['--header', `${k}: ${v}`]),
    ...(target.session ? ['--session-pool', String(target.session.pool), '--session-prefix', target.session.prefix] : []),
    ...(timeline ? ['--timeline', timeline] : []),
  ];
  const r = await run('taskset', args, {}, duration + warmup + 30);
  try {
    const j = JSON.parse(r.out.trim().split('\n').pop());
    return {
      rps: j.rps,
      requests: j.requests,
      errors: j.errors,
      latency_ms: j.total_ms,
      ttfb_ms: j.ttfb_ms,
      ttft_ms: j.ttft_ms,
      events_per_resp: j.events_per_resp,
      status_codes: j.status_codes,
      ...(j.offered_rate ? { offered_rate: j.offered_rate, dropped: j.dropped } : {}),
      ...(j.history_turns ? { history_turns: j.history_turns } : {}),
    };
  } catch (e) {
    return { parse_error: String(e), stdout: r.out.slice(-400), stderr: r.err.slice(-400) };
  }
}
