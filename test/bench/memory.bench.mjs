#!/usr/bin/env node
/**
 * Memory jobs — summaries and facts per minute, queue lag under a burst, the worker's RSS (issue #6).
 *
 *   npm run bench -- --bench memory        (or: npm run build && node test/bench/memory.bench.mjs)
 *   options: --latencies 0,500 (ms the fake model takes per answer; a phase each, side by side)
 *            --sessions 2 --turns 800 (throughput) --burst-turns 10000 --burst-sessions 100
 *            --burst-batch 2 (turns per request) --burst-concurrency 8 (requests in flight)
 *            --burst-latencies (default: --latencies) --timeout 1800 (s per phase before giving up)
 *            --skip throughput,burst --keep-logs --data DIR (LoCoMo files, default ../shared/bench/locomo)
 *
 * Runs the built code (dist/) as in production with separate workers: per phase a fresh stack — the
 * gateway (`node dist/src/main.js`, JOBS_PROCESS=false) and ONE worker (`node dist/workers/main.js`)
 * with the same env and config file, on the real Postgres (TEST_DATABASE_URL, a schema of its own,
 * dropped after) and Redis (TEST_REDIS_URL, a key prefix of its own, deleted after) — and a fake
 * OpenAI-compatible model in this process: a summary request gets a short summary, fact extraction
 * (`response_format.json_schema.name` 'facts') one fact per user turn of the prompt (`#N [date] Name:
 * text` lines), reconciliation ('operations') "add" for every fact, each answer after the phase's
 * latency. Summaries use the production defaults (trigger 3,000 tokens, 1,000 kept, 500 at most);
 * sweeps run every second; episodic memory is off on the gateway (embedding every turn would take the
 * same 2 cores from the worker; context.bench.mjs measures it), so the worker's embedder (fact vectors,
 * USE-lite, lazy) is the only one. The text is LoCoMo turns: speaker A is the user (named), B the assistant.
 *  - throughput, per latency: `--sessions` sessions (each with its own user) of `--turns` turns, each
 *    imported in one POST /v1/sessions/:id/messages; a fold reads at most 400 turns, an extraction 40,
 *    so an 800-turn session takes 2 summary versions and 20 extractions (a phase: ~1 minute at 500 ms).
 *    Timed from the first import until every session has converged (facts_seq = last_seq and the
 *    unsummarised tail under the trigger, read in SQL every 200 ms). Rates over each kind's own span,
 *    from the first import to its newest row (created_at): summary versions per minute, fact
 *    extractions (one model call each) and facts stored per minute; model calls; and the facts checked:
 *    one per user turn, none twice.
 *  - burst, per latency: `--burst-turns` turns over `--burst-sessions` sessions, `--burst-batch` turns
 *    per POST, round-robin over the sessions (many conversations at once), `--burst-concurrency`
 *    requests in flight, as fast as the gateway takes them. The queue lag of a session: from the answer
 *    to its last append to the first poll that sees it converged (the facts job's 2 s debounce
 *    included). Reported: p50/p95/max lag, the time to drain everything, and the peak of waiting
 *    (and delayed) jobs read from GET /admin/v1/jobs every 500 ms.
 *  - the worker's RSS (VmRSS, /proc/<pid>/status every 200 ms) in every phase: the baseline (median of
 *    the second before the first append, the embedder not loaded yet), the peak, and at convergence;
 *    the gateway's peak beside it.
 * The worker logs at debug level (to count retries and dropped folds; one line per fold or extraction).
 * Writes test/bench/results/memory.{md,json} and prints one JSON line last.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { procStatus, writeResults } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MB = 1024 * 1024;
const MODEL = 'bench-memory';
/** The production defaults, written out so the bench knows the trigger it waits for. */
const SUMMARY = { triggerTokens: 3000, keepRecentTokens: 1000, maxTokens: 500 };
/** Sweeps every second: a lost wake-up costs a second, not the default minute. */
const SWEEP_MS = 1000;
const POLL_MS = 200;
const JOBS_POLL_MS = 500;
const KINDS = ['summarize', 'extract_facts'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
/** Processes and stores of the stacks running now, stopped on Ctrl-C. */
const live = new Set();

export async function runMemoryBench(argv = process.argv.slice(2)) {
  const { values: a } = parseArgs({
    args: argv,
    strict: false,
    options: {
      latencies: { type: 'string', default: '0,500' },
      sessions: { type: 'string', default: '2' },
      turns: { type: 'string', default: '800' },
      'burst-turns': { type: 'string', default: '10000' },
      'burst-sessions': { type: 'string', default: '100' },
      'burst-batch': { type: 'string', default: '2' },
      'burst-concurrency': { type: 'string', default: '8' },
      'burst-latencies': { type: 'string' },
      timeout: { type: 'string', default: '1800' },
      skip: { type: 'string', default: '' },
      'keep-logs': { type: 'boolean', default: false },
      data: { type: 'string', default: resolve(root, '../shared/bench/locomo') },
    },
  });
  const skip = new Set(a.skip.split(',').filter(Boolean));
  for (const s of skip) if (!['throughput', 'burst'].includes(s)) throw new Error(`--skip ${s}: parts are throughput, burst`);
  const ms = (list) => list.split(',').filter(Boolean).map(Number);
  const latencies = ms(a.latencies);
  const burstLatencies = ms(a['burst-latencies'] ?? a.latencies);
  for (const l of [...latencies, ...burstLatencies]) if (!Number.isFinite(l) || l < 0) throw new Error(`latency ${l}: milliseconds ≥ 0`);
  for (const u of [DATABASE_URL, REDIS_URL]) if (!['127.0.0.1', 'localhost'].includes(new URL(u).hostname)) throw new Error(`not loopback: ${u}`);
  for (const f of ['dist/src/main.js', 'dist/workers/main.js']) if (!existsSync(join(root, f))) throw new Error(`${f} is missing: npm run build first`);
  const corpus = loadCorpus(a.data);
  const command = `node ${relative(process.cwd(), process.argv[1] ?? 'test/bench/memory.bench.mjs')} ${process.argv.slice(2).join(' ')}`.trim();
  const out = { bench: 'memory', command, started_at: new Date().toISOString(), loadavg_start: loadavg().map((x) => round(x, 2)), throughput: [], burst: [] };
  const logsDir = mkdtempSync(join(tmpdir(), 'memory-bench-'));
  const model = await startFakeModel();
  const onSignal = async () => {
    console.error('interrupted: stopping what the bench started');
    await Promise.allSettled([...live].map((s) => s.stop()));
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const opts = { corpus, model, logsDir, timeoutS: Number(a.timeout) };
    if (!skip.has('throughput'))
      for (const latency of latencies) out.throughput.push(await throughputPhase({ ...opts, latency, sessions: Number(a.sessions), turns: Number(a.turns) }));
    if (!skip.has('burst'))
      for (const latency of burstLatencies)
        out.burst.push(
          await burstPhase({
            ...opts,
            latency,
            turns: Number(a['burst-turns']),
            sessions: Number(a['burst-sessions']),
            batch: Number(a['burst-batch']),
            concurrency: Number(a['burst-concurrency']),
          }),
        );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await model.close();
    if (a['keep-logs']) console.error(`logs kept in ${logsDir}`);
    else rmSync(logsDir, { recursive: true, force: true });
  }
  out.loadavg_end = loadavg().map((x) => round(x, 2));
  writeResults('memory', out, report(out));
  // The timelines stay in the JSON file; the printed line carries the figures.
  const strip = ({ rss_timeline, jobs_timeline, ...r }) => r;
  console.log(JSON.stringify({ ...out, throughput: out.throughput.map(strip), burst: out.burst.map(strip) }));
  return out;
}

// ————— the fake model —————

/**
 * An OpenAI-compatible upstream (POST /v1/chat/completions, JSON answers in the real wire format, as
 * test/helpers/fake-openai.ts) scripted for the memory jobs, answering after `latency` ms. Counts
 * the calls of each kind and the most it had in flight at once.
 */
async function startFakeModel() {
  const state = { latency: 0, calls: { summary: 0, facts: 0, operations: 0, other: 0 }, inflight: 0, maxInflight: 0 };
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      raw += c;
    });
    const answer = async () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      const body = JSON.parse(raw);
      const { kind, content } = scripted(body);
      state.calls[kind] += 1;
      state.inflight += 1;
      state.maxInflight = Math.max(state.maxInflight, state.inflight);
      if (state.latency > 0) await sleep(state.latency);
      state.inflight -= 1;
      const id = `chatcmpl-${randomBytes(6).toString('hex')}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
          usage: {
            prompt_tokens: Math.ceil(raw.length / 4),
            completion_tokens: Math.ceil(content.length / 4),
            total_tokens: Math.ceil((raw.length + content.length) / 4),
          },
        }),
      );
    };
    req.on('end', () => void answer().catch((e) => res.destroy(e)));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    /** Sets the latency of the next phase and zeroes the counters. */
    reset(latency) {
      state.latency = latency;
      state.calls = { summary: 0, facts: 0, operations: 0, other: 0 };
      state.maxInflight = state.inflight;
    },
    counts: () => ({ ...state.calls, max_in_flight: state.maxInflight }),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

/** What the memory jobs ask, answered: a summary, one fact per user turn, "add" for every fact. */
function scripted(body) {
  const format = body.response_format?.json_schema?.name;
  const prompt = String(body.messages?.at(-1)?.content ?? '');
  if (format === 'facts') {
    const facts = [...prompt.matchAll(/^#(\d+) \[[\d-]+\] ([^:\n]+): (.*)$/gm)]
      .filter((m) => m[2] !== 'assistant')
      .map((m) => ({ text: `${m[2]} said: ${m[3].split(' ').slice(0, 16).join(' ')}`, category: 'fact', date: null, turns: [Number(m[1])] }));
    return { kind: 'facts', content: JSON.stringify({ facts }) };
  }
  if (format === 'operations') {
    const n = prompt.split('\n\nNew facts:\n')[1]?.split('\n').length ?? 0;
    return {
      kind: 'operations',
      content: JSON.stringify({ operations: Array.from({ length: n }, (_, fact) => ({ fact, action: 'add', id: null, text: null })) }),
    };
  }
  if (String(body.messages?.[0]?.content).includes('running summary')) {
    const upTo = [...prompt.matchAll(/^\[[\d-]+\] ([^:\n]+): /gm)].length;
    return {
      kind: 'summary',
      content:
        `The conversation so far covers ${upTo} more turns. The user talked about their family, their work and their plans for the coming weeks; ` +
        'the assistant asked about the details and both agreed to talk again soon. Dates and names were kept as the turns gave them.',
    };
  }
  return { kind: 'other', content: 'Noted.' };
}

// ————— a stack: gateway + one worker on a schema and key prefix of their own —————

/**
 * A vector store gateway and worker share: the tests' local server speaking Qdrant's REST format (no
 * Qdrant or pgvector on this machine). With vectors in one process's memory instead, the gateway
 * would take the fact jobs itself and the worker would measure nothing.
 */
async function startSharedVectors() {
  const { register } = await import('tsx/esm/api');
  register();
  const { startFakeQdrant } = await import('../helpers/vector-fake-qdrant.ts');
  return startFakeQdrant();
}

async function startStack({ name, modelUrl, logsDir }) {
  const id = `bench_mem_${name}_${randomBytes(4).toString('hex')}`;
  const vectors = await startSharedVectors();
  const stack = { schema: id, prefix: `${id}:`, adminKey: `bench-admin-${randomBytes(12).toString('hex')}`, procs: [] };
  const config = join(logsDir, `${id}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      providers: { fake: { kind: 'openai', baseUrl: modelUrl, apiKey: 'bench-unused-key' } },
      models: { [MODEL]: { targets: [{ provider: 'fake', model: 'gpt-4o-mini' }] } },
      memory: {
        episodic: { enabled: false },
        summary: { ...SUMMARY, model: MODEL, sweepIntervalMs: SWEEP_MS },
        facts: { model: MODEL, sweepIntervalMs: SWEEP_MS },
      },
      embeddings: { preload: false },
      vector: { kind: 'qdrant', url: vectors.url },
    }),
  );
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL,
    DATABASE_SCHEMA: stack.schema,
    REDIS_URL,
    REDIS_KEY_PREFIX: stack.prefix,
    JOBS_PROCESS: 'false',
    ADMIN_API_KEY: stack.adminKey,
    CONFIG_FILE: config,
  };
  stack.stop = async () => {
    live.delete(stack);
    await Promise.allSettled(stack.procs.map(stopChild));
    await stack.db?.end().catch(() => {});
    await dropStores(stack);
    await vectors.close();
  };
  live.add(stack);
  try {
    // The gateway first: it applies the migrations (the worker would wait on their lock anyway).
    stack.gateway = startChild('gateway', ['dist/src/main.js'], { ...env, LOG_LEVEL: 'info' }, join(logsDir, `${id}-gateway.log`));
    stack.procs.push(stack.gateway);
    stack.url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${stack.url}/healthz`).catch(() => undefined))?.ok, stack.gateway, 90_000);
    stack.worker = startChild('worker', ['dist/workers/main.js'], { ...env, LOG_LEVEL: 'debug' }, join(logsDir, `${id}-worker.log`));
    stack.procs.push(stack.worker);
    await waitFor(() => readFileSync(stack.worker.logFile, 'utf8').includes('"msg":"worker started"'), stack.worker, 90_000);
    const admin = (path, body) => call(stack.url, stack.adminKey, 'POST', path, body);
    const tenant = await admin('/admin/v1/tenants', { name: id });
    stack.tenantId = tenant.id;
    stack.key = (await admin('/admin/v1/keys', { tenant_id: tenant.id })).key;
    stack.db = new pg.Client({ connectionString: DATABASE_URL });
    await stack.db.connect();
    return stack;
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

function startChild(name, args, env, logFile) {
  const fd = openSync(logFile, 'w');
  const proc = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const child = { name, proc, pid: proc.pid, logFile, exited: false };
  child.gone = new Promise((r) =>
    proc.once('exit', (code, signal) => {
      child.exited = true;
      child.code = code ?? signal;
      r();
    }),
  );
  return child;
}

/** SIGTERM (the worker lets a running job finish, up to its 10 s grace), SIGKILL after 20 s. */
async function stopChild(child) {
  if (child.exited) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.exited || child.proc.kill('SIGKILL'), 20_000);
  await child.gone;
  clearTimeout(timer);
}

async function waitFor(check, child, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (child.exited) throw new Error(`the ${child.name} exited (${child.code}) before it was ready:\n${tail(child.logFile, 20)}`);
    if (Date.now() > until) throw new Error(`the ${child.name} was not ready after ${timeoutMs / 1000} s:\n${tail(child.logFile, 20)}`);
    await sleep(100);
  }
}

async function dropStores(stack) {
  try {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${stack.schema}" CASCADE`);
    await client.end();
  } catch (e) {
    console.error(`could not drop schema ${stack.schema}: ${e.message}`);
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${stack.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch (e) {
    console.error(`could not delete the Redis keys ${stack.prefix}*: ${e.message}`);
  } finally {
    redis.disconnect();
  }
}

async function call(url, key, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body && JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

async function freePort() {
  const s = createNetServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// ————— watching: sessions converging, RSS, the queue —————

/**
 * Polls the tenant's sessions every 200 ms. A session counts once every append to it was answered
 * (`sent`): its facts are done when facts_seq = last_seq, its summaries when the tail is under the
 * trigger, and it has converged when both hold (each moment is the first poll that saw it).
 */
function watchSessions(stack, ids) {
  const sessions = new Map(ids.map((id) => [id, { sentAt: undefined, factsAt: undefined, summaryAt: undefined, convergedAt: undefined, state: undefined }]));
  let stopped = false;
  let polls = 0;
  let errors = 0;
  // Jobs are deduplicated per session, so the waiting count stays under the session count: the
  // backlog itself is the turns not yet read for facts.
  let peakUnread = 0;
  const loop = (async () => {
    while (!stopped) {
      const t = now();
      let rows = [];
      try {
        ({ rows } = await stack.db.query(
          `SELECT id, last_seq, facts_seq, summarized_seq, tail_tokens::int AS tail FROM "${stack.schema}".sessions WHERE tenant_id = $1`,
          [stack.tenantId],
        ));
        polls++;
        peakUnread = Math.max(
          peakUnread,
          rows.reduce((n, r) => n + r.last_seq - r.facts_seq, 0),
        );
      } catch (e) {
        if (errors++ < 3) console.error(`  session poll failed: ${e.message}`);
      }
      for (const r of rows) {
        const s = sessions.get(r.id);
        if (!s) continue;
        s.state = r;
        if (s.sentAt === undefined) continue;
        if (s.factsAt === undefined && r.facts_seq === r.last_seq) s.factsAt = t;
        if (s.summaryAt === undefined && r.tail < SUMMARY.triggerTokens) s.summaryAt = t;
        if (s.convergedAt === undefined && s.factsAt !== undefined && s.summaryAt !== undefined) s.convergedAt = t;
      }
      await sleep(Math.max(0, POLL_MS - (now() - t)));
    }
  })();
  const all = () => [...sessions.values()];
  return {
    sessions,
    sent(id, t) {
      sessions.get(id).sentAt = t;
    },
    converged: () => all().filter((s) => s.convergedAt !== undefined).length,
    done: () => all().every((s) => s.convergedAt !== undefined),
    polls: () => polls,
    peakUnread: () => peakUnread,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** VmRSS and VmHWM of `pid` every 200 ms, each sample tagged with the phase's current `tag`. */
function rssSampler(pid, t0) {
  const samples = [];
  let tag = 'idle';
  const sample = () => {
    const s = procStatus(pid);
    if (s) samples.push({ t: now() - t0, tag, ...s });
  };
  sample();
  const timer = setInterval(sample, 200);
  return {
    samples,
    last: () => samples.at(-1),
    tag(x) {
      tag = x;
    },
    stop() {
      sample();
      clearInterval(timer);
    },
  };
}

function rssFigures(worker, gateway) {
  const idle = worker.samples.filter((s) => s.tag === 'idle');
  const busy = worker.samples.filter((s) => s.tag !== 'idle');
  const end = busy.at(-1) ?? worker.last();
  const lastIdle = idle.at(-1)?.t ?? 0;
  return {
    worker_baseline_mb: round(median(idle.filter((s) => s.t >= lastIdle - 1000).map((s) => s.rss)) / MB, 0),
    worker_peak_mb: round(Math.max(...busy.map((s) => s.rss)) / MB, 0),
    worker_end_mb: round((end?.rss ?? 0) / MB, 0),
    worker_vm_hwm_mb: round((end?.hwm ?? 0) / MB, 0),
    gateway_peak_mb: round(Math.max(...gateway.samples.map((s) => s.rss)) / MB, 0),
    rss_samples: worker.samples.length,
  };
}

/** GET /admin/v1/jobs every 500 ms: waiting, delayed and active jobs of the memory kinds. */
function jobsSampler(stack, t0) {
  const samples = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = now();
      try {
        const { counts } = await call(stack.url, stack.adminKey, 'GET', '/admin/v1/jobs?limit=0');
        const sum = (state) => KINDS.reduce((n, k) => n + (counts[k]?.[state] ?? 0), 0);
        samples.push({
          t: t - t0,
          waiting: sum('waiting'),
          delayed: sum('delayed'),
          active: sum('active'),
          ...Object.fromEntries(KINDS.map((k) => [k, counts[k]])),
        });
      } catch (e) {
        samples.push({ t: t - t0, error: e.message });
      }
      await sleep(Math.max(0, JOBS_POLL_MS - (now() - t)));
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** What the worker's log says: retries, jobs failed for good, folds dropped, warnings. */
function workerLog(file) {
  const r = { folds_logged: 0, folds_dropped: 0, extractions_logged: 0, retries: 0, failed_for_good: 0, warnings: {} };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let l;
    try {
      l = JSON.parse(line);
    } catch {
      continue;
    }
    if (l.msg === 'session summarised') {
      r.folds_logged++;
      if (l.saved === false) r.folds_dropped++;
    } else if (l.msg === 'facts extracted') r.extractions_logged++;
    else if (l.msg === 'job failed, will retry') r.retries++;
    else if (l.msg === 'job failed for good') r.failed_for_good++;
    if ((l.level === 'warn' || l.level === 'error' || l.level === 'fatal') && r.warnings.length < 10)
      r.warnings.push(`${l.level}: ${l.msg}${l.err ? ` (${l.err})` : ''}`);
  }
  return r;
}

/**
 * Summary versions, and facts with their distinct source turns (equal when none was stored twice);
 * with the wall-clock ms of the newest of each (its transaction's start), for the rates.
 */
async function stored(stack) {
  const q = async (text) => (await stack.db.query(text, [stack.tenantId])).rows[0];
  const s = await q(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE method = 'llm')::int AS llm, (extract(epoch FROM max(created_at)) * 1000)::float8 AS last_ms
     FROM "${stack.schema}".session_summaries WHERE tenant_id = $1`,
  );
  const f = await q(
    `SELECT count(*)::int AS n, count(DISTINCT (session_id, source_turns::text))::int AS distinct_sources, (extract(epoch FROM max(created_at)) * 1000)::float8 AS last_ms
     FROM "${stack.schema}".memories WHERE tenant_id = $1 AND valid_to IS NULL`,
  );
  return {
    summary_versions: s.n,
    summary_versions_llm: s.llm,
    facts: f.n,
    facts_distinct_sources: f.distinct_sources,
    lastSummaryMs: s.last_ms,
    lastFactMs: f.last_ms,
  };
}

async function failedJobs(stack) {
  try {
    const { failed } = await call(stack.url, stack.adminKey, 'GET', '/admin/v1/jobs?limit=100');
    return failed.map((f) => `${f.kind} ${f.key}: ${f.error}`);
  } catch (e) {
    return [`GET /admin/v1/jobs failed: ${e.message}`];
  }
}

function notConverged(watch) {
  return [...watch.sessions.entries()].filter(([, s]) => s.convergedAt === undefined).map(([id, s]) => ({ id, sent: s.sentAt !== undefined, ...s.state }));
}

// ————— throughput —————

async function throughputPhase({ corpus, model, logsDir, timeoutS, latency, sessions: nSessions, turns: nTurns }) {
  console.error(`\nthroughput, model ${latency} ms: ${nSessions} sessions × ${nTurns} turns; starting the gateway and the worker`);
  model.reset(latency);
  const stack = await startStack({ name: `t${latency}`, modelUrl: model.url, logsDir });
  const t0 = now();
  const worker = rssSampler(stack.worker.pid, t0);
  const gateway = rssSampler(stack.gateway.pid, t0);
  const plans = Array.from({ length: nSessions }, (_, i) => ({
    id: `tp-${i + 1}`,
    user: `user-${i + 1}`,
    messages: messages(corpus, i * nTurns, nTurns),
  }));
  const userTurns = plans.reduce((n, p) => n + p.messages.filter((m) => m.role === 'user').length, 0);
  const watch = watchSessions(
    stack,
    plans.map((p) => p.id),
  );
  try {
    await sleep(2000); // the baseline: the worker idle, its embedder not loaded yet
    worker.tag('run');
    gateway.tag('run');
    const start = now();
    const startWall = Date.now();
    await Promise.all(
      plans.map(async (p) => {
        await call(stack.url, stack.key, 'POST', `/v1/sessions/${p.id}/messages`, { user: p.user, messages: p.messages });
        watch.sent(p.id, now());
      }),
    );
    const importS = (now() - start) / 1000;
    console.error(`  imported in ${round(importS, 1)} s; waiting until every session has converged`);
    const deadline = start + timeoutS * 1000;
    let lastLog = now();
    while (!watch.done() && now() < deadline) {
      await sleep(POLL_MS);
      if (now() - lastLog >= 10_000) {
        lastLog = now();
        const c = model.counts();
        console.error(
          `  ${watch.converged()}/${nSessions} converged, model calls ${c.summary} summary / ${c.facts} facts / ${c.operations} reconcile, worker RSS ${round((worker.last()?.rss ?? 0) / MB, 0)} MB (${round((now() - start) / 1000, 0)} s)`,
        );
      }
    }
    await watch.stop();
    worker.stop();
    gateway.stop();
    const all = [...watch.sessions.values()];
    const converged = watch.done();
    const at = (k) => Math.max(...all.map((s) => s[k] ?? now()));
    const totalS = (at('convergedAt') - start) / 1000;
    const calls = model.counts();
    // Each kind's rate over its own span: from the first import to its last row in SQL (the polls' 200 ms
    // would dominate a span of a few folds).
    const { lastSummaryMs, lastFactMs, ...db } = await stored(stack);
    const summariesS = lastSummaryMs ? (lastSummaryMs - startWall) / 1000 : null;
    const factsS = lastFactMs ? (lastFactMs - startWall) / 1000 : null;
    // None of a kind (sessions under the trigger): no rate.
    const perMinute = (n, seconds, d) => (seconds > 0 ? round((n / seconds) * 60, d) : null);
    const log = workerLog(stack.worker.logFile);
    const r = {
      latency_ms: latency,
      sessions: nSessions,
      turns_per_session: nTurns,
      turns: nSessions * nTurns,
      user_turns: userTurns,
      converged,
      not_converged: converged ? [] : notConverged(watch),
      import_seconds: round(importS, 2),
      seconds: round(totalS, 1),
      summaries_seconds: summariesS === null ? null : round(summariesS, 1),
      facts_seconds: factsS === null ? null : round(factsS, 1),
      ...db,
      summaries_per_minute: perMinute(db.summary_versions, summariesS, 1),
      fact_extractions: calls.facts,
      fact_extractions_per_minute: perMinute(calls.facts, factsS, 1),
      facts_per_minute: perMinute(db.facts, factsS, 0),
      facts_as_expected: db.facts === userTurns && db.facts_distinct_sources === db.facts,
      model_calls: calls,
      ...rssFigures(worker, gateway),
      worker_log: log,
      failed_jobs: await failedJobs(stack),
      rss_timeline: worker.samples.filter((_, i) => i % 5 === 0).map((s) => [round(s.t / 1000, 1), round(s.rss / MB, 0)]),
    };
    console.error(
      `throughput, model ${latency} ms: ${converged ? 'converged' : 'NOT converged'} in ${r.seconds} s — ${r.summary_versions} summaries (${r.summaries_per_minute}/min), ` +
        `${r.fact_extractions} extractions (${r.fact_extractions_per_minute}/min), ${r.facts} facts (${r.facts_per_minute}/min, ${r.facts_as_expected ? 'one per user turn' : `expected ${userTurns}`}); ` +
        `worker RSS ${r.worker_baseline_mb} → peak ${r.worker_peak_mb} → ${r.worker_end_mb} MB`,
    );
    return r;
  } finally {
    worker.stop();
    gateway.stop();
    await watch.stop();
    await stack.stop();
  }
}

// ————— burst —————

async function burstPhase({ corpus, model, logsDir, timeoutS, latency, turns: nTurns, sessions: nSessions, batch, concurrency }) {
  console.error(
    `\nburst, model ${latency} ms: ${nTurns} turns over ${nSessions} sessions, ${batch} per request, ${concurrency} in flight; starting the gateway and the worker`,
  );
  model.reset(latency);
  const stack = await startStack({ name: `b${latency}`, modelUrl: model.url, logsDir });
  const t0 = now();
  const worker = rssSampler(stack.worker.pid, t0);
  const gateway = rssSampler(stack.gateway.pid, t0);
  const plans = Array.from({ length: nSessions }, (_, i) => {
    const n = Math.floor(nTurns / nSessions) + (i < nTurns % nSessions ? 1 : 0);
    const msgs = messages(corpus, i * 7919, n);
    const batches = [];
    for (let b = 0; b < msgs.length; b += batch) batches.push(msgs.slice(b, b + batch));
    return { id: `burst-${i + 1}`, user: `user-${i + 1}`, batches, left: batches.length };
  });
  // Round-robin: the first exchange of every session, then the second of every session, …
  const order = [];
  for (let b = 0; b < Math.max(...plans.map((p) => p.batches.length)); b++)
    for (const p of plans) if (b < p.batches.length) order.push({ plan: p, batch: p.batches[b] });
  const watch = watchSessions(
    stack,
    plans.map((p) => p.id),
  );
  let jobs;
  try {
    await sleep(2000);
    worker.tag('run');
    gateway.tag('run');
    const start = now();
    jobs = jobsSampler(stack, start);
    const requestMs = [];
    let errors = 0;
    let next = 0;
    let lastLog = now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < order.length) {
          const { plan, batch: msgs } = order[next++];
          const s = now();
          try {
            await call(stack.url, stack.key, 'POST', `/v1/sessions/${plan.id}/messages`, { user: plan.user, messages: msgs });
          } catch (e) {
            if (errors++ < 5) console.error(`  append failed: ${e.message}`);
          }
          requestMs.push(now() - s);
          if (--plan.left === 0) watch.sent(plan.id, now());
          if (now() - lastLog >= 10_000) {
            lastLog = now();
            console.error(`  ${requestMs.length}/${order.length} requests (${round((now() - start) / 1000, 0)} s)`);
          }
        }
      }),
    );
    const appendEnd = now();
    const appendS = (appendEnd - start) / 1000;
    console.error(`  ${nTurns} turns appended in ${round(appendS, 1)} s (${round(nTurns / appendS, 0)} turns/s); waiting until every session has converged`);
    const deadline = appendEnd + timeoutS * 1000;
    lastLog = now();
    while (!watch.done() && now() < deadline) {
      await sleep(POLL_MS);
      if (now() - lastLog >= 10_000) {
        lastLog = now();
        const j = jobs.samples.at(-1);
        const c = model.counts();
        console.error(
          `  ${watch.converged()}/${nSessions} converged, jobs waiting ${j?.waiting ?? '?'} delayed ${j?.delayed ?? '?'} active ${j?.active ?? '?'}, ` +
            `model calls ${c.summary} summary / ${c.facts} facts / ${c.operations} reconcile, worker RSS ${round((worker.last()?.rss ?? 0) / MB, 0)} MB (${round((now() - appendEnd) / 1000, 0)} s after the burst)`,
        );
      }
    }
    await watch.stop();
    await jobs.stop();
    worker.stop();
    gateway.stop();
    const all = [...watch.sessions.values()].filter((s) => s.sentAt !== undefined);
    const converged = watch.done();
    const lag = (k) => all.filter((s) => s[k] !== undefined).map((s) => (s[k] - s.sentAt) / 1000);
    const lastConverged = Math.max(...all.map((s) => s.convergedAt ?? now()));
    const calls = model.counts();
    const js = jobs.samples.filter((s) => !s.error);
    const peak = (f) => Math.max(0, ...js.map(f));
    const r = {
      latency_ms: latency,
      turns: nTurns,
      sessions: nSessions,
      turns_per_request: batch,
      concurrency,
      requests: order.length,
      request_errors: errors,
      converged,
      not_converged: converged ? [] : notConverged(watch),
      append_seconds: round(appendS, 1),
      turns_per_second: round(nTurns / appendS, 0),
      request_ms: stats(requestMs, 1),
      lag_seconds: stats(lag('convergedAt'), 2),
      facts_lag_seconds: stats(lag('factsAt'), 2),
      summary_lag_seconds: stats(lag('summaryAt'), 2),
      drain_after_burst_seconds: round((lastConverged - appendEnd) / 1000, 1),
      drain_from_start_seconds: round((lastConverged - start) / 1000, 1),
      peak_waiting: peak((s) => s.waiting),
      peak_waiting_by_kind: Object.fromEntries(KINDS.map((k) => [k, peak((s) => s[k]?.waiting ?? 0)])),
      peak_delayed: peak((s) => s.delayed),
      peak_turns_unread_for_facts: watch.peakUnread(),
      peak_active: peak((s) => s.active),
      jobs_samples: js.length,
      jobs_sample_errors: jobs.samples.length - js.length,
      ...(({ lastSummaryMs, lastFactMs, ...db }) => db)(await stored(stack)),
      model_calls: calls,
      ...rssFigures(worker, gateway),
      worker_log: workerLog(stack.worker.logFile),
      failed_jobs: await failedJobs(stack),
      // [seconds since the first append, waiting, delayed, active]
      jobs_timeline: js.map((s) => [round(s.t / 1000, 1), s.waiting, s.delayed, s.active]),
      rss_timeline: worker.samples.filter((_, i) => i % 5 === 0).map((s) => [round(s.t / 1000, 1), round(s.rss / MB, 0)]),
    };
    console.error(
      `burst, model ${latency} ms: ${converged ? 'converged' : 'NOT converged'}; lag p50 ${r.lag_seconds.p50} s, p95 ${r.lag_seconds.p95} s, max ${r.lag_seconds.max} s; ` +
        `drained ${r.drain_after_burst_seconds} s after the burst; peak waiting ${r.peak_waiting} (delayed ${r.peak_delayed}); ` +
        `worker RSS ${r.worker_baseline_mb} → peak ${r.worker_peak_mb} → ${r.worker_end_mb} MB`,
    );
    return r;
  } finally {
    worker.stop();
    gateway.stop();
    await watch.stop();
    await jobs?.stop();
    await stack.stop();
  }
}

// ————— the corpus —————

/** LoCoMo turns in conversation and session order; speaker A of each conversation plays the user. */
function loadCorpus(dataDir) {
  const turns = [];
  for (const f of readdirSync(dataDir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const d = JSON.parse(readFileSync(join(dataDir, f), 'utf8'));
    const sessions = Object.keys(d)
      .filter((k) => /^session_\d+$/.test(k) && Array.isArray(d[k]))
      .sort((x, y) => Number(x.split('_')[1]) - Number(y.split('_')[1]));
    for (const k of sessions) for (const t of d[k]) turns.push({ user: t.speaker === d.speaker_a, speaker: t.speaker, text: t.text });
  }
  if (turns.length === 0) throw new Error(`no LoCoMo conversations in ${dataDir} (--data)`);
  return turns;
}

/** `n` consecutive turns from `start` (wrapping): user turns named by their speaker, assistant turns unnamed. */
function messages(corpus, start, n) {
  return Array.from({ length: n }, (_, i) => {
    const t = corpus[(start + i) % corpus.length];
    return t.user ? { role: 'user', name: t.speaker, content: t.text } : { role: 'assistant', content: t.text };
  });
}

// ————— numbers and the report —————

function stats(xs, d) {
  if (xs.length === 0) return { p50: null, p95: null, max: null, n: 0 };
  const s = [...xs].sort((x, y) => x - y);
  const q = (p) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))], d);
  return { p50: q(0.5), p95: q(0.95), max: round(s.at(-1), d), n: s.length };
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function round(x, d) {
  return Number(x.toFixed(d));
}

function tail(file, n) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

function report(out) {
  const lines = [`\`${out.command}\``, '', `load average at start ${out.loadavg_start.join(' / ')}, at end ${out.loadavg_end.join(' / ')} (2 cores)`];
  const table = (title, phases, rows) => {
    lines.push('', `| ${title} | ${phases.map((p) => `model ${p.latency_ms} ms`).join(' | ')} |`, `|---|${phases.map(() => '---|').join('')}`);
    for (const [label, f] of rows) lines.push(`| ${label} | ${phases.map((p) => String(f(p)).replaceAll('null', '–')).join(' | ')} |`);
  };
  const rss = (p) => `${p.worker_baseline_mb} / ${p.worker_peak_mb} / ${p.worker_end_mb}`;
  const calls = (p) => `${p.model_calls.summary} / ${p.model_calls.facts} / ${p.model_calls.operations}`;
  const problems = (p) => `${p.failed_jobs.length} / ${p.worker_log.retries} / ${p.worker_log.folds_dropped}`;
  const t = out.throughput;
  if (t.length > 0) {
    const p0 = t[0];
    table(`throughput: ${p0.sessions} sessions × ${p0.turns_per_session} turns, each imported at once`, t, [
      [
        'converged: every session, facts read to its last turn, tail under the trigger',
        (p) => (p.converged ? 'yes' : `**no** (${p.not_converged.length} left)`),
      ],
      ['seconds, first import → all converged (import alone)', (p) => `${p.seconds} (${p.import_seconds})`],
      ['summary versions (LLM)', (p) => `${p.summary_versions} (${p.summary_versions_llm})`],
      ['**summaries / min** (first import → newest version, s)', (p) => `**${p.summaries_per_minute}** (${p.summaries_seconds})`],
      ['fact extractions (≤ 40 turns, one model call each)', (p) => p.fact_extractions],
      ['**fact extractions / min** (first import → newest fact, s)', (p) => `**${p.fact_extractions_per_minute}** (${p.facts_seconds})`],
      ['facts stored (one per user turn, none twice)', (p) => `${p.facts} (${p.facts_as_expected ? 'as expected' : `**expected ${p.user_turns}**`})`],
      ['**facts / min**', (p) => `**${p.facts_per_minute}**`],
      ['model calls: summary / facts / reconcile (most in flight)', (p) => `${calls(p)} (${p.model_calls.max_in_flight})`],
      ['worker RSS MB: baseline / peak / at convergence', rss],
      ['gateway peak RSS MB', (p) => p.gateway_peak_mb],
      ['failed jobs / retries / folds dropped', problems],
    ]);
    lines.push(
      '',
      'One worker (one job of each kind at a time), the fake model answering after the stated latency. A fold reads at most 400 turns and keeps the newest ' +
        `${SUMMARY.keepRecentTokens} tokens; an extraction reads 40 turns, then reconciles its facts with the user's memories (no model call while the user has none). ` +
        "Fact extraction starts after its 2 s debounce. The worker's baseline is its RSS idle, before the embedder (fact vectors) is loaded.",
    );
  }
  const b = out.burst;
  if (b.length > 0) {
    const p0 = b[0];
    table(
      `burst: ${p0.turns} turns over ${p0.sessions} sessions, ${p0.turns_per_request} turns per request, ${p0.concurrency} in flight, round-robin over the sessions`,
      b,
      [
        ['converged', (p) => (p.converged ? 'yes' : `**no** (${p.not_converged.length} left)`)],
        ['append seconds (turns/s; failed requests)', (p) => `${p.append_seconds} (${p.turns_per_second}; ${p.request_errors})`],
        ['append request ms p50 / p95 / max', (p) => `${p.request_ms.p50} / ${p.request_ms.p95} / ${p.request_ms.max}`],
        ['**queue lag s p50 / p95 / max** (last append → session converged)', (p) => `**${p.lag_seconds.p50} / ${p.lag_seconds.p95} / ${p.lag_seconds.max}**`],
        ['lag s, facts only: p50 / max', (p) => `${p.facts_lag_seconds.p50} / ${p.facts_lag_seconds.max}`],
        ['lag s, summaries only: p50 / max', (p) => `${p.summary_lag_seconds.p50} / ${p.summary_lag_seconds.max}`],
        ['**drain s** after the last append (from the first)', (p) => `**${p.drain_after_burst_seconds}** (${p.drain_from_start_seconds})`],
        [
          '**peak waiting jobs** (summarize / extract_facts)',
          (p) => `**${p.peak_waiting}** (${p.peak_waiting_by_kind.summarize} / ${p.peak_waiting_by_kind.extract_facts})`,
        ],
        ['peak delayed (debounced) / active jobs', (p) => `${p.peak_delayed} / ${p.peak_active}`],
        ['peak turns not yet read for facts (all sessions)', (p) => p.peak_turns_unread_for_facts],
        ['summary versions / facts stored', (p) => `${p.summary_versions} / ${p.facts}`],
        ['model calls: summary / facts / reconcile (most in flight)', (p) => `${calls(p)} (${p.model_calls.max_in_flight})`],
        ['worker RSS MB: baseline / peak / at convergence', rss],
        ['gateway peak RSS MB', (p) => p.gateway_peak_mb],
        ['failed jobs / retries / folds dropped', problems],
      ],
    );
    lines.push(
      '',
      "A session's lag is measured from the answer to its last append to the first poll (every 200 ms) that sees its facts read to the last turn and its tail under " +
        `the ${SUMMARY.triggerTokens}-token trigger; it includes the facts job's 2 s debounce. Jobs are deduplicated per session and kind, so at most one waits per session and kind.`,
    );
  }
  // Each distinct failure or warning once, with the phases that logged it.
  const odd = new Map();
  for (const [part, phases] of [
    ['throughput', t],
    ['burst', b],
  ])
    for (const p of phases)
      for (const x of [...p.failed_jobs.map((f) => `failed job: ${f}`), ...Object.keys(p.worker_log.warnings)])
        odd.set(x, [...(odd.get(x) ?? []), `${part} ${p.latency_ms} ms`]);
  if (odd.size > 0)
    lines.push('', "Failed jobs and warnings in the workers' logs:", '', ...[...odd].slice(0, 20).map(([x, where]) => `- ${x} — ${where.join(', ')}`));
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runMemoryBench();
