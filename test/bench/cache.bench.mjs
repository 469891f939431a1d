#!/usr/bin/env node
/**
 * The response cache — hits next to a miss, the pass-through and the upstream direct, at 100k entries.
 *
 *   npm run bench -- --bench cache        (or: node test/bench/cache.bench.mjs; it builds first)
 *   options: --entries 100000 (cached entries, one tenant, one scope) --base 3000 (of them with their
 *            real embedding) --requests 500 (per case, c=1) --rounds 5 --warmup 20 (per case)
 *            --variants redis,sql (a fresh server each) --duration 5 (s per throughput run) --conc 16
 *            --tp-rounds 2 --diag-queries 50 --fill mix|noise --noise-cos 0.8 --pin throughput|all|none
 *            --no-build --keep-logs
 *            --data DIR (LoCoMo files, default ../shared/bench/locomo)
 *
 * Runs the BUILT gateway (dist/) in a child process (lib/cache-server.mjs) on the embedded default —
 * PGlite in a temporary directory, pgvector, USE-lite embeddings — with Redis (REDIS_URL, default
 * redis://127.0.0.1:6379, a key prefix of its own, deleted at the end) for the `redis` variant and
 * without for `sql`; a fake OpenAI upstream answering at once (lib/cache-upstream.mjs, JSON ~700 B or
 * SSE role + 20 chunks) in its own process. A tenant and key are made through the admin API.
 *  - seed: `--entries` entries in ONE tenant and ONE scope (stateless requests to alias `m`, no
 *    system prompt: every entry is a candidate of every semantic lookup, the worst case for the
 *    filtered vector search), written by the server process through the gateway's own modules:
 *    ids and scope from the built cacheKey() exactly as the chat route computes them, rows in
 *    cache_entries (put()'s columns, 2,000 per INSERT, one transaction), the Redis copies (put()'s
 *    JSON and key) in pipelines, vectors through the pgvector adapter's upsert (payload {scope}).
 *    Texts: LoCoMo questions and user turns (`--base`, their REAL USE-lite embeddings), the rest those
 *    texts with a suffix " (i)" and, with `--fill mix` (default), the midpoint of their base's vector
 *    and another random base's plus a little noise (a point among real embeddings, ~0.84 at most to a
 *    paraphrase of either), or with `--fill noise` their base's vector plus isotropic gaussian noise
 *    to cosine ≈ `--noise-cos` (0.8). Both stay under the 0.9 threshold, so they never answer a
 *    paraphrase; but isotropic noise fills 512 dimensions with near-random points, on which pgvector's
 *    HNSW graph (m 16, ef_construction 64) finds the nearest real entry for only ~72 % of queries
 *    (85 % at ef_search 1000), where with 'mix' it finds all of them: 'noise' measures the index on
 *    a worst case, not the cache. Embedding 100k texts at ~60–150/s would take 10–30 min and change
 *    nothing about lookup cost. The HNSW
 *    index is built once after the inserts, then ANALYZE. Then the seeding server is closed and each
 *    variant runs a fresh server on its own copy of the seeded data directory.
 *  - latency, c=1, `--requests` per case, interleaved in `--rounds` rounds (order rotated):
 *      direct           the fake upstream itself
 *      pass-through     Cache-Control: no-store (x-cache: off): the gateway without the cache, JSON / streamed
 *      miss             a new question each time (x-cache: miss): exact lookup + query embedding +
 *                       vector search + upstream; the store happens after the answer
 *      exact hit        a seeded question (x-cache: hit, exact), JSON / streamed (to `data: [DONE]`)
 *      semantic hit     a paraphrase of a real-embedded entry (its text + a polite suffix), unique per
 *                       request so the embedder's query LRU cannot serve it, JSON / streamed
 *      semantic, LRU    one paraphrase again and again: the query vector comes from the LRU
 *    Every paraphrase was checked beforehand (its embedding against every real one, exactly) to have
 *    its own entry nearest, at ≥ threshold + 0.01. Each response's x-cache / x-cache-kind (and for
 *    hits x-cache-entry) is checked against the case; mismatches are counted and reported.
 *  - where a semantic hit's time goes, in the server without HTTP (`--diag-queries` fresh
 *    paraphrases): query embedding, LRU lookup, vector search, entry read (SQL / Redis), the
 *    adapter's "few enough points?" count (memoised 10 s), and EXPLAIN ANALYZE of the HNSW query.
 *  - throughput, c=`--conc` (Node load client on CPU 0) for `--duration` s, `--tp-rounds` rounds
 *    (order rotated, medians): the upstream direct, pass-through, exact hit JSON, semantic hit (LRU)
 *    JSON. With `--pin throughput` (default) the server runs free on both cores for the latency cases
 *    and the breakdown, then every thread of it is pinned to CPU 1 (taskset -a) for these runs, so
 *    req/s ÷ its CPU share is per core; `--pin all` pins it throughout, `--pin none` never.
 *  - RSS (VmRSS, VmHWM) of the seeding server after the seed, and of each variant's server after
 *    start, after the latency run and at the end.
 * Writes test/bench/results/cache-<stamp>.{md,json,jsonl} (jsonl: one line per measurement) and
 * prints one JSON line last. Stops everything it started and removes its temporary directory and
 * Redis keys. The servers run a private copy of dist/ (the repository is shared: a build by someone
 * else during the run must not change the code between the seed and the variants).
 * Quick check: --entries 2000 --base 1000 --requests 100 (~2 minutes).
 */
import { fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ANSWER } from './lib/cache-upstream.mjs';
import { loadClient, log, pinSelf, procStatus, resultsDir, sampler, startPinned, stopAll, tail, waitHttp, writeResults } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ALIAS = 'm';
const UPSTREAM_MODEL = 'gpt-4o-mini';
const THRESHOLD = 0.9; // cache.threshold's default; the server runs with the defaults
const CLIENT_CPU = 0;
const SERVER_CPU = 1;
const MB = 1024 * 1024;
/** p95 targets of the issue, ms. */
const TARGETS = { exact: 3, semantic: 15 };
/** Polite endings that keep a question's words and meaning: a paraphrase is a base text + one of them. */
const SUFFIXES = [
  ' Thanks!',
  ' Thank you.',
  ' Any idea?',
  ' Thanks in advance.',
  ' Just curious.',
  ' I would like to know.',
  ' Please answer briefly.',
  ' Asking for a friend.',
  ' Cheers!',
  ' Much appreciated.',
  ' Do you remember?',
  ' Can you tell me?',
];
/** Processes and directories to clean up on Ctrl-C. */
const live = { servers: new Set(), dirs: new Set(), redisPrefix: undefined };

export async function runCacheBench(argv = process.argv.slice(2)) {
  const { values: a } = parseArgs({
    args: argv,
    strict: false,
    options: {
      entries: { type: 'string', default: '100000' },
      base: { type: 'string', default: '3000' },
      requests: { type: 'string', default: '500' },
      rounds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '20' },
      variants: { type: 'string', default: 'redis,sql' },
      duration: { type: 'string', default: '5' },
      conc: { type: 'string', default: '16' },
      'tp-rounds': { type: 'string', default: '2' },
      'diag-queries': { type: 'string', default: '50' },
      fill: { type: 'string', default: 'mix' },
      'noise-cos': { type: 'string', default: '0.8' },
      'no-build': { type: 'boolean', default: false },
      pin: { type: 'string', default: 'throughput' },
      'keep-logs': { type: 'boolean', default: false },
      data: { type: 'string', default: resolve(root, '../shared/bench/locomo') },
    },
  });
  const opt = {
    entries: Number(a.entries),
    base: Number(a.base),
    requests: Number(a.requests),
    rounds: Math.max(1, Number(a.rounds)),
    warmup: Number(a.warmup),
    variants: a.variants.split(',').filter(Boolean),
    duration: Number(a.duration),
    conc: Number(a.conc),
    tpRounds: Math.max(1, Number(a['tp-rounds'])),
    diag: Number(a['diag-queries']),
    fill: a.fill,
    noiseCos: Number(a['noise-cos']),
    pin: a.pin,
  };
  if (!['throughput', 'all', 'none'].includes(opt.pin)) throw new Error(`--pin ${opt.pin}: throughput, all or none`);
  for (const v of opt.variants) if (!['redis', 'sql'].includes(v)) throw new Error(`--variants ${v}: redis or sql`);
  if (!['mix', 'noise'].includes(opt.fill)) throw new Error(`--fill ${opt.fill}: mix or noise`);
  if (!(opt.noiseCos > 0 && opt.noiseCos < THRESHOLD)) throw new Error(`--noise-cos must be in (0, ${THRESHOLD})`);
  if (!['127.0.0.1', 'localhost'].includes(new URL(REDIS_URL).hostname)) throw new Error(`not loopback: ${REDIS_URL}`);
  if (!a['no-build']) {
    log('npm run build');
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  for (const f of ['dist/src/gateway.js', 'dist/src/cache/key.js']) if (!existsSync(join(root, f))) throw new Error(`${f} is missing: npm run build first`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const command = `node ${relative(process.cwd(), process.argv[1] ?? 'test/bench/cache.bench.mjs')} ${process.argv.slice(2).join(' ')}`.trim();
  const texts = loadTexts(a.data);
  opt.base = Math.min(opt.base, texts.length, opt.entries);
  const out = {
    bench: 'cache',
    command,
    started_at: new Date().toISOString(),
    loadavg_start: loadavg().map((x) => round(x, 2)),
    options: opt,
    git: gitDescribe(),
    variants: {},
  };
  const records = [];
  const work = mkdtempSync(join(tmpdir(), 'cache-bench-'));
  live.dirs.add(work);
  // A private copy of dist/: another build during the run (the repository is shared) must not change
  // the code under the servers (a migration edited in between stops the next start).
  const distDir = snapshotDist(work);
  const redisPrefix = opt.variants.includes('redis') ? `bench_cache_${randomBytes(4).toString('hex')}:` : undefined;
  live.redisPrefix = redisPrefix;
  const onSignal = async () => {
    console.error('interrupted: stopping what the bench started');
    await cleanup(a['keep-logs']);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (redisPrefix) await redisPing();
    // ————— the corpus: entries, paraphrases, new questions, requests
    const entries = Array.from({ length: opt.entries }, (_, i) => (i < opt.base ? texts[i] : `${texts[i % opt.base]} (${i})`));
    const corpusFile = join(work, 'corpus.json');
    writeFileSync(corpusFile, JSON.stringify({ texts: entries, base: opt.base, answer: ANSWER, fill: opt.fill, noiseCos: opt.noiseCos }));
    const rand = mulberry(20260101);
    const exactNeed = 2 * (opt.requests + opt.warmup) + 4;
    if (exactNeed > opt.entries) throw new Error(`--entries ${opt.entries}: at least ${exactNeed} needed for ${opt.requests} requests`);
    const exactIdx = sample(opt.entries, exactNeed, rand);
    const paraNeed = 2 * (opt.requests + opt.warmup) + opt.diag + 4;

    // ————— the upstream and the seeding server
    const logsDir = join(work, 'logs');
    mkdirSync(logsDir);
    const upPort = await freePort();
    const upstream = startPinned('upstream', CLIENT_CPU, process.execPath, [join(here, 'lib/cache-upstream.mjs')], {
      env: { PORT: String(upPort) },
      logFile: join(logsDir, 'upstream.log'),
    });
    const upstreamUrl = `http://127.0.0.1:${upPort}`;
    await waitHttp(`${upstreamUrl}/`, { entry: upstream, timeoutMs: 15_000 });
    const adminKey = `bench-admin-${randomBytes(12).toString('hex')}`;
    const seedDir = join(work, 'seed');
    log(`seeding ${opt.entries} entries (${opt.base} with real embeddings) in ${seedDir}${redisPrefix ? `, Redis copies under ${redisPrefix}` : ''}`);
    const seeder = await startServer({
      name: 'seed',
      distDir,
      dataDir: seedDir,
      redis: !!redisPrefix,
      redisPrefix,
      upstreamUrl,
      adminKey,
      logFile: join(logsDir, 'seed.log'),
    });
    let seed;
    let paraphrases;
    let tenantId;
    let key;
    try {
      const tenant = await adminPost(seeder.url, adminKey, '/admin/v1/tenants', { name: `bench-cache-${stamp}` });
      tenantId = tenant.id;
      ({ key } = await adminPost(seeder.url, adminKey, '/admin/v1/keys', { tenant_id: tenantId }));
      const t0 = Date.now();
      seed = await seeder.call('seed', { tenantId, corpusFile }, 3 * 3600_000);
      seed.seconds = round((Date.now() - t0) / 1000, 1);
      seed.rss_after_seed = mbOf(procStatus(seeder.pid));
      log(
        `seeded in ${seed.seconds} s: ${JSON.stringify(seed.timings)}; tables ${JSON.stringify(seed.table_mb)} MB; seeding server RSS ${JSON.stringify(seed.rss_after_seed)} MB`,
      );
      // Paraphrases whose own entry is the nearest real one, above the threshold.
      const t1 = Date.now();
      paraphrases = await choseParaphrases(seeder, texts, opt.base, paraNeed, rand);
      seed.paraphrases = { ...paraphrases.stats, seconds: round((Date.now() - t1) / 1000, 1) };
      log(`paraphrases: ${JSON.stringify(seed.paraphrases)}`);
    } finally {
      await seeder.close();
    }
    const { ids, scope } = seed;
    delete seed.ids;
    out.seed = seed;
    records.push({ kind: 'seed', ...seed });

    // ————— the variants, each a fresh server on its own copy of the seeded data
    const p = paraphrases.list;
    const split = {
      warmJson: p.slice(0, opt.warmup),
      warmStream: p.slice(opt.warmup, 2 * opt.warmup),
      json: p.slice(2 * opt.warmup, 2 * opt.warmup + opt.requests),
      stream: p.slice(2 * opt.warmup + opt.requests, 2 * opt.warmup + 2 * opt.requests),
      diag: p.slice(2 * opt.warmup + 2 * opt.requests, 2 * opt.warmup + 2 * opt.requests + opt.diag),
      lru: p.at(-1),
      check: p.at(-2),
    };
    const ex = {
      check: exactIdx.slice(0, 4),
      warmJson: exactIdx.slice(4, 4 + opt.warmup),
      warmStream: exactIdx.slice(4 + opt.warmup, 4 + 2 * opt.warmup),
      json: exactIdx.slice(4 + 2 * opt.warmup, 4 + 2 * opt.warmup + opt.requests),
      stream: exactIdx.slice(4 + 2 * opt.warmup + opt.requests),
    };
    for (const variant of opt.variants) {
      const dataDir = join(work, `data-${variant}`);
      log(`\n=== variant ${variant}: copying the seeded data, starting a fresh server`);
      cpSync(seedDir, dataDir, { recursive: true });
      const server = await startServer({
        name: variant,
        distDir,
        dataDir,
        redis: variant === 'redis',
        redisPrefix,
        upstreamUrl,
        adminKey,
        logFile: join(logsDir, `${variant}.log`),
      });
      const v = { rss: { after_start: mbOf(procStatus(server.pid)) } };
      out.variants[variant] = v;
      try {
        const ctx = { server, key, upstreamUrl, entries, ids, opt, work, variant };
        if (opt.pin === 'all') pin(server);
        else unpinSelf();
        await checks(ctx, { exact: ex.check, paraphrase: split.check });
        v.latency = await latencyPart(ctx, { ex, split });
        v.rss.after_latency = mbOf(procStatus(server.pid));
        for (const [name, c] of Object.entries(v.latency.cases))
          records.push({ kind: 'latency', variant, case: name, ...c, samples_ms: undefined, samples_ok: undefined });
        log('diag: a semantic hit in parts, in the server');
        v.diag = await server.call(
          'diag',
          { tenantId, scope, paraphrases: split.diag.map((q) => q.text), exactIds: ex.json.slice(0, opt.diag).map((i) => ids[i]) },
          600_000,
        );
        v.diag.top1_own = split.diag.filter((q, i) => v.diag.top1_ids[i] === ids[q.base]).length;
        delete v.diag.top1_ids;
        records.push({ kind: 'diag', variant, ...v.diag });
        log(`diag: ${JSON.stringify(v.diag.ms)}; HNSW in the plan: ${v.diag.uses_hnsw}`);
        if (opt.pin === 'throughput') pin(server);
        v.throughput = await throughputPart(ctx, { upstream, exactIdx: ex.check[3], paraphrase: split.lru });
        for (const r of v.throughput.runs) records.push({ kind: 'throughput', variant, ...r });
        v.rss.end = mbOf(procStatus(server.pid));
      } finally {
        await server.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    out.upstream_log_tail = tail(upstream.logFile, 3);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup(a['keep-logs']);
  }
  out.loadavg_end = loadavg().map((x) => round(x, 2));
  out.targets = targetsOf(out);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `cache-${stamp}.jsonl`), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  writeResults(`cache-${stamp}`, out, report(out));
  // The per-request samples and the throughput runs stay in the files; the printed line carries the figures.
  const lean = structuredClone(out);
  for (const v of Object.values(lean.variants)) {
    for (const c of Object.values(v.latency?.cases ?? {})) {
      delete c.samples_ms;
      delete c.samples_ok;
    }
    if (v.throughput) delete v.throughput.runs;
    if (v.diag) delete v.diag.plan;
  }
  console.log(JSON.stringify(lean));
  return out;
}

// ————— processes —————

/** The gateway in a child process (lib/cache-server.mjs), driven over IPC. */
async function startServer({ name, distDir, dataDir, redis, redisPrefix, upstreamUrl, adminKey, logFile }) {
  const fd = openSync(logFile, 'a');
  const child = fork(join(here, 'lib/cache-server.mjs'), [], {
    cwd: root,
    execArgv: [],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      CACHE_BENCH_SERVER: JSON.stringify({
        distDir,
        dataDir,
        ...(redis ? { redisUrl: REDIS_URL, redisPrefix } : {}),
        upstreamUrl,
        adminKey,
        alias: ALIAS,
        upstreamModel: UPSTREAM_MODEL,
        ttlSeconds: 86_400,
      }),
    },
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  closeSync(fd);
  const pending = new Map();
  let seq = 0;
  let exited = false;
  const s = {
    name,
    pid: child.pid,
    url: undefined,
    call(cmd, args = {}, timeoutMs = 600_000) {
      if (exited) return Promise.reject(new Error(`server ${name} has exited; see ${logFile}\n${tail(logFile, 20)}`));
      const id = ++seq;
      return new Promise((resolveCall, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`server ${name}: ${cmd} took over ${timeoutMs / 1000} s`));
        }, timeoutMs);
        pending.set(id, (m) => {
          clearTimeout(timer);
          if (m.ok) resolveCall(m.result);
          else reject(new Error(`server ${name}: ${cmd}: ${m.error}`));
        });
        child.send({ id, cmd, ...args });
      });
    },
    async close() {
      live.servers.delete(s);
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      await Promise.race([s.call('close', {}, 60_000).catch(() => {}), gone]);
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(kill);
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
  live.servers.add(s);
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`server ${name} not ready within 300 s; see ${logFile}\n${tail(logFile, 20)}`)), 300_000);
    child.on('message', (m) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        s.url = m.url;
        resolveReady();
        return;
      }
      const done = pending.get(m?.id);
      if (done) {
        pending.delete(m.id);
        done(m);
      }
    });
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      const err = new Error(`server ${name} exited (${code ?? signal}); see ${logFile}\n${tail(logFile, 20)}`);
      for (const done of pending.values()) done({ ok: false, error: err.message });
      pending.clear();
      reject(err);
    });
  });
  await ready;
  log(`server ${name}: pid ${child.pid}, ${s.url}`);
  return s;
}

/** Copies dist/ to `work/app/dist`, an ESM package whose node_modules is the repository's (a symlink). */
function snapshotDist(work) {
  const app = join(work, 'app');
  mkdirSync(app);
  cpSync(join(root, 'dist'), join(app, 'dist'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cache-bench-snapshot', private: true, type: 'module' }));
  symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
  return join(app, 'dist');
}

/** The server on CPU ${SERVER_CPU} (every thread), this process (the c=1 client) on CPU ${CLIENT_CPU}. */
function pin(server) {
  if (server.pinned) return;
  pinAll(server.pid, SERVER_CPU);
  pinSelf(CLIENT_CPU);
  server.pinned = true;
}

/** This process back on every CPU (a previous variant's throughput part pinned it). */
function unpinSelf() {
  spawnSync('taskset', ['-pc', `0-${availableParallelism() - 1}`, String(process.pid)], { stdio: 'ignore' });
}

/** Pins every thread of `pid` (the main thread, libuv's pool, the embedder's workers, GC helpers) to `cpu`. */
function pinAll(pid, cpu) {
  const r = spawnSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
  if (r.status !== 0) log(`taskset -a -pc ${cpu} ${pid} failed (exit ${r.status}); the server is not pinned`);
}

async function cleanup(keepLogs) {
  await Promise.allSettled(
    [...live.servers].map(async (s) => {
      s.kill();
      live.servers.delete(s);
    }),
  );
  await stopAll();
  if (live.redisPrefix) {
    await deleteRedisKeys(live.redisPrefix);
    live.redisPrefix = undefined;
  }
  for (const d of live.dirs) {
    if (keepLogs) {
      const kept = mkdtempSync(join(tmpdir(), 'cache-bench-logs-'));
      if (existsSync(join(d, 'logs'))) cpSync(join(d, 'logs'), kept, { recursive: true });
      console.error(`logs kept in ${kept}`);
    }
    rmSync(d, { recursive: true, force: true });
    live.dirs.delete(d);
  }
}

async function redisPing() {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw new Error(`Redis at ${REDIS_URL} does not answer (${e.message}): start it, set REDIS_URL, or run --variants sql`);
  } finally {
    r.disconnect();
  }
}

async function deleteRedisKeys(prefix) {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
      cursor = next;
      if (keys.length) n += await r.unlink(...keys);
    } while (cursor !== '0');
    log(`deleted ${n} Redis keys with prefix ${prefix}`);
  } catch (e) {
    log(`could not delete Redis keys ${prefix}*: ${e.message}`);
  } finally {
    r.disconnect();
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function adminPost(base, adminKey, path, body) {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`POST ${path} → ${r.status} ${JSON.stringify(j)}`);
  return j;
}

function gitDescribe() {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root });
  const d = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root });
  return `${String(r.stdout).trim()}${String(d.stdout).trim() ? ' (src/ has uncommitted changes)' : ''}`;
}

// ————— texts —————

/** LoCoMo questions, then user turns: distinct, 15–300 characters, whitespace collapsed. */
function loadTexts(dataDir) {
  const questions = [];
  const turns = [];
  for (const f of readdirSync(dataDir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const d = JSON.parse(readFileSync(join(dataDir, f), 'utf8'));
    for (const q of d.qa ?? []) if (typeof q.question === 'string') questions.push(q.question);
    const sessions = Object.keys(d)
      .filter((k) => /^session_\d+$/.test(k) && Array.isArray(d[k]))
      .sort((x, y) => Number(x.split('_')[1]) - Number(y.split('_')[1]));
    for (const k of sessions) for (const t of d[k]) if (typeof t.text === 'string') turns.push(t.text);
  }
  const seen = new Set();
  const out = [];
  for (const raw of [...questions, ...turns]) {
    const t = raw.replace(/\s+/g, ' ').trim();
    if (t.length < 15 || t.length > 300 || seen.has(t.toLowerCase())) continue;
    seen.add(t.toLowerCase());
    out.push(t);
  }
  if (out.length === 0) throw new Error(`no LoCoMo texts in ${dataDir} (--data)`);
  VOCAB = [
    ...new Set(
      out
        .join(' ')
        .toLowerCase()
        .match(/\b[a-z]{4,}\b/g),
    ),
  ];
  return out;
}

/**
 * `need` paraphrases {text, base}: a base text plus a polite suffix, each (base, suffix) once, the
 * bases in a shuffled order; kept when the seeding server finds (exactly, over the real embeddings)
 * its own entry the nearest, at threshold + 0.01 or more and 0.005 ahead of the next.
 */
async function choseParaphrases(seeder, texts, base, need, rand) {
  const order = shuffle(
    Array.from({ length: base }, (_, i) => i),
    rand,
  );
  const pairs = [];
  for (let s = 0; s < SUFFIXES.length; s++) for (const b of order) pairs.push({ b, s });
  const list = [];
  const stats = { tried: 0, kept: 0, own_not_nearest: 0, below_threshold: 0 };
  let at = 0;
  while (list.length < need && at < pairs.length) {
    const batch = pairs.slice(at, at + Math.ceil((need - list.length) * 1.5) + 16);
    at += batch.length;
    const candidates = batch.map(({ b, s }) => ({ text: `${texts[b].replace(/\s*$/, '')}${SUFFIXES[s]}`, base: b }));
    const verdicts = await seeder.call('prefilter', { candidates, threshold: THRESHOLD }, 1800_000);
    verdicts.forEach((v, i) => {
      stats.tried++;
      if (v.ok) {
        stats.kept++;
        list.push({ ...candidates[i], sim: v.sim });
      } else if (v.best !== candidates[i].base) stats.own_not_nearest++;
      else stats.below_threshold++;
    });
  }
  if (list.length < need) throw new Error(`only ${list.length} usable paraphrases of ${need} needed: raise --base or lower --requests`);
  stats.sim_p50 = round(
    percentile(
      list.map((x) => x.sim),
      0.5,
    ),
    4,
  );
  stats.sim_min = round(Math.min(...list.map((x) => x.sim)), 4);
  return { list: list.slice(0, need), stats };
}

/** Words of the LoCoMo texts (4+ letters), for questions no entry answers; set by loadTexts. */
let VOCAB = [];
/**
 * A question no entry answers: 9 random words of the corpus (seeded by `i`, so unique per `i`).
 * Measured with USE-lite: such questions are at most ~0.70 similar to each other and ~0.65 to the
 * LoCoMo texts, so neither a seeded entry nor an earlier miss's stored entry answers one (no
 * numbers either: the guard would turn a near neighbour away for that alone).
 */
function newQuestion(i) {
  const rand = mulberry(0x9e3779b1 ^ (i * 2654435761));
  const w = Array.from({ length: 9 }, () => VOCAB[Math.floor(rand() * VOCAB.length)]);
  return `${w[0][0].toUpperCase()}${w[0].slice(1)} ${w.slice(1).join(' ')}?`;
}

// ————— HTTP, c=1 —————

const agents = new Map();
/** One POST on a kept-alive connection per host; resolves once the whole body is read. */
function post(url, payload, headers = {}) {
  const u = new URL(url);
  let agent = agents.get(u.host);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.set(u.host, agent);
  }
  const data = JSON.stringify(payload);
  return new Promise((resolvePost, reject) => {
    const t0 = performance.now();
    const req = http.request(
      u,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } },
      (res) => {
        const ttfb = performance.now() - t0;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolvePost({ ms: performance.now() - t0, ttfb, status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${url}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

const chat = (content, stream = false, model = ALIAS) => ({ model, messages: [{ role: 'user', content }], ...(stream ? { stream: true } : {}) });

/** What a response must look like for its case; returns the problems (empty when it is right). */
function verdict(r, expect) {
  const bad = [];
  if (r.status !== 200) bad.push(`status ${r.status}`);
  if (expect.stream && !r.text.endsWith('data: [DONE]\n\n')) bad.push('stream without [DONE]');
  if (!expect.stream && !r.text.includes('"choices"')) bad.push('no choices');
  if (expect.cache !== undefined && r.headers['x-cache'] !== expect.cache) bad.push(`x-cache ${r.headers['x-cache']} (expected ${expect.cache})`);
  if (expect.kind !== undefined && r.headers['x-cache-kind'] !== expect.kind) bad.push(`x-cache-kind ${r.headers['x-cache-kind']} (expected ${expect.kind})`);
  if (r.headers['x-cache-degraded']) bad.push(`degraded: ${r.headers['x-cache-degraded']}`);
  return bad;
}

/** Before measuring: a seeded question is an exact hit (its seeded id), streamed too; a paraphrase a semantic hit; no-store is off. */
async function checks(ctx, { exact, paraphrase }) {
  const { server, key, entries, ids } = ctx;
  const auth = { authorization: `Bearer ${key}` };
  const url = `${server.url}/v1/chat/completions`;
  const probe = [
    ['exact hit (a base entry, JSON)', chat(entries[exact[0]]), {}, { cache: 'hit', kind: 'exact', entry: ids[exact[0]] }],
    ['exact hit (streamed)', chat(entries[exact[1]], true), {}, { cache: 'hit', kind: 'exact', entry: ids[exact[1]], stream: true }],
    ['exact hit, whitespace changed', chat(`  ${entries[exact[2]].replace(' ', '   ')} `), {}, { cache: 'hit', kind: 'exact', entry: ids[exact[2]] }],
    ['semantic hit', chat(paraphrase.text), {}, { cache: 'hit', kind: 'semantic', entry: ids[paraphrase.base] }],
    ['no-store', chat(entries[exact[0]]), { 'cache-control': 'no-store' }, { cache: 'off' }],
  ];
  for (const [what, body, headers, expect] of probe) {
    const r = await post(url, body, { ...auth, ...headers });
    const bad = verdict(r, expect);
    if (expect.entry && r.headers['x-cache-entry'] !== expect.entry) bad.push(`x-cache-entry ${r.headers['x-cache-entry']} (seeded ${expect.entry})`);
    if (bad.length > 0) throw new Error(`check "${what}" failed: ${bad.join('; ')} — ${r.text.slice(0, 300)}`);
  }
  log(`checks passed: a seeded question is an exact hit with its seeded id (JSON, streamed, whitespace changed), a paraphrase a semantic hit, no-store is off`);
}

/** The cases of the latency part, c=1, interleaved in rounds. */
async function latencyPart(ctx, { ex, split }) {
  const { server, key, upstreamUrl, entries, ids, opt } = ctx;
  const auth = { authorization: `Bearer ${key}` };
  const gw = `${server.url}/v1/chat/completions`;
  const up = `${upstreamUrl}/v1/chat/completions`;
  const noStore = { ...auth, 'cache-control': 'no-store' };
  let fresh = 0;
  // [name, x-cache expected, target, (i, warm) → {url, body, headers, entry?}]
  const defs = [
    ['upstream direct', { cache: undefined }, null, (i) => ({ url: up, body: chat(newQuestion(i), false, UPSTREAM_MODEL), headers: {} })],
    ['pass-through (no-store) JSON', { cache: 'off' }, null, (i) => ({ url: gw, body: chat(newQuestion(i)), headers: noStore })],
    ['pass-through (no-store) streamed', { cache: 'off', stream: true }, null, (i) => ({ url: gw, body: chat(newQuestion(i), true), headers: noStore })],
    ['miss (new question) JSON', { cache: 'miss' }, null, () => ({ url: gw, body: chat(newQuestion(100_000 + fresh++)), headers: auth })],
    [
      'exact hit JSON',
      { cache: 'hit', kind: 'exact' },
      TARGETS.exact,
      (i, warm) => {
        const k = (warm ? ex.warmJson : ex.json)[i];
        return { url: gw, body: chat(entries[k]), headers: auth, entry: ids[k] };
      },
    ],
    [
      'exact hit streamed',
      { cache: 'hit', kind: 'exact', stream: true },
      TARGETS.exact,
      (i, warm) => {
        const k = (warm ? ex.warmStream : ex.stream)[i];
        return { url: gw, body: chat(entries[k], true), headers: auth, entry: ids[k] };
      },
    ],
    [
      'semantic hit JSON (query embedded)',
      { cache: 'hit', kind: 'semantic' },
      TARGETS.semantic,
      (i, warm) => {
        const q = (warm ? split.warmJson : split.json)[i];
        return { url: gw, body: chat(q.text), headers: auth, entry: ids[q.base] };
      },
    ],
    [
      'semantic hit streamed (query embedded)',
      { cache: 'hit', kind: 'semantic', stream: true },
      TARGETS.semantic,
      (i, warm) => {
        const q = (warm ? split.warmStream : split.stream)[i];
        return { url: gw, body: chat(q.text, true), headers: auth, entry: ids[q.base] };
      },
    ],
    [
      'semantic hit JSON (query vector from the LRU)',
      { cache: 'hit', kind: 'semantic' },
      TARGETS.semantic,
      () => ({ url: gw, body: chat(split.lru.text), headers: auth, entry: ids[split.lru.base] }),
    ],
  ];
  const cases = defs.map(([name, expect, target, make]) => ({
    name,
    expect,
    target,
    make,
    ms: [],
    ok: [],
    ttfb: [],
    sims: [],
    done: 0,
    problems: {},
    wrongEntry: 0,
  }));
  const one = async (c, i, warm) => {
    const q = c.make(i, warm);
    let r;
    try {
      r = await post(q.url, q.body, q.headers);
    } catch (e) {
      r = { status: 0, headers: {}, text: String(e.message), ms: NaN, ttfb: NaN };
    }
    const bad = verdict(r, c.expect);
    if (!warm) {
      c.ms.push(r.ms);
      c.ok.push(bad.length === 0);
      c.ttfb.push(r.ttfb);
      if (r.headers['x-cache-similarity']) c.sims.push(Number(r.headers['x-cache-similarity']));
      for (const b of bad) c.problems[b] = (c.problems[b] ?? 0) + 1;
      if (bad.length === 0 && q.entry && r.headers['x-cache-entry'] !== q.entry) c.wrongEntry++;
    } else if (bad.length > 0 && i === 0) log(`  warm-up "${c.name}": ${bad.join('; ')}`);
  };
  log(`latency: ${opt.warmup} warm-up requests per case, then ${opt.requests} per case in ${opt.rounds} rounds, c=1`);
  for (const c of cases) for (let i = 0; i < opt.warmup; i++) await one(c, i, true);
  const perRound = Math.ceil(opt.requests / opt.rounds);
  const t0 = Date.now();
  for (let r = 0; r < opt.rounds; r++) {
    const order = cases.map((_, i) => cases[(i + r) % cases.length]);
    for (const c of order) {
      const end = Math.min(opt.requests, c.done + perRound);
      for (; c.done < end; c.done++) await one(c, c.done, false);
    }
    log(`  round ${r + 1}/${opt.rounds} (${round((Date.now() - t0) / 1000, 0)} s)`);
  }
  const result = {};
  for (const c of cases) {
    const s = stats(c.ms);
    const mismatches = Object.values(c.problems).reduce((x, y) => x + y, 0);
    // The targets are about hits: a lookup that missed went to the upstream and is no hit's latency.
    const hits = c.expect.cache === 'hit' && mismatches > 0 ? stats(c.ms.filter((_, i) => c.ok[i])) : undefined;
    result[c.name] = {
      ...s,
      ...(hits ? { hits_only: hits } : {}),
      ttfb_ms: stats(c.ttfb),
      rps_c1: round(1000 / mean(c.ms), 0),
      target_p95_ms: c.target,
      met: c.target == null ? null : (hits ?? s).p95 <= c.target,
      mismatches,
      problems: c.problems,
      wrong_entry: c.wrongEntry,
      ...(c.sims.length > 0 ? { similarity: { p50: round(percentile(c.sims, 0.5), 4), min: round(Math.min(...c.sims), 4) } } : {}),
      samples_ms: c.ms.map((x) => round(x, 2)),
      samples_ok: c.ok.map((x) => (x ? 1 : 0)),
    };
    log(
      `  ${c.name}: p50 ${s.p50} p95 ${s.p95} p99 ${s.p99} ms${mismatches ? `, ${mismatches} mismatches ${JSON.stringify(c.problems)}` : ''}${c.wrongEntry ? `, ${c.wrongEntry} hits on another entry` : ''}`,
    );
  }
  return { requests: opt.requests, rounds: opt.rounds, warmup: opt.warmup, cases: result };
}

// ————— throughput —————

async function throughputPart(ctx, { upstream, exactIdx, paraphrase }) {
  const { server, key, upstreamUrl, entries, opt, work, variant } = ctx;
  const auth = { authorization: `Bearer ${key}` };
  const gw = `${server.url}/v1/chat/completions`;
  const file = (name, body) => {
    const f = join(work, `body-${variant}-${name}.json`);
    writeFileSync(f, JSON.stringify(body));
    return f;
  };
  const targets = [
    {
      name: 'upstream direct',
      url: `${upstreamUrl}/v1/chat/completions`,
      headers: {},
      bodyFile: file('direct', chat(newQuestion(7), false, UPSTREAM_MODEL)),
      pid: upstream.pid,
    },
    {
      name: 'pass-through (no-store)',
      url: gw,
      headers: { ...auth, 'cache-control': 'no-store' },
      bodyFile: file('pass', chat(newQuestion(7))),
      pid: server.pid,
    },
    {
      name: 'exact hit JSON',
      url: gw,
      headers: auth,
      bodyFile: file('exact', chat(entries[exactIdx])),
      pid: server.pid,
      expect: { cache: 'hit', kind: 'exact' },
    },
    {
      name: 'semantic hit JSON (LRU)',
      url: gw,
      headers: auth,
      bodyFile: file('semantic', chat(paraphrase.text)),
      pid: server.pid,
      expect: { cache: 'hit', kind: 'semantic' },
    },
  ];
  for (const t of targets) {
    if (!t.expect) continue;
    const r = await post(t.url, JSON.parse(readFileSync(t.bodyFile, 'utf8')), t.headers);
    const bad = verdict(r, t.expect);
    if (bad.length > 0) throw new Error(`throughput target "${t.name}": ${bad.join('; ')}`);
  }
  log(
    `throughput: c=${opt.conc}, ${opt.duration} s each, ${opt.tpRounds} round(s); load client on CPU ${CLIENT_CPU}${opt.pin !== 'none' ? `, server pinned to CPU ${SERVER_CPU}` : ''}`,
  );
  const runs = [];
  for (let r = 0; r < opt.tpRounds; r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length]);
    for (const t of order) {
      const s = sampler(t.pid);
      const res = await loadClient(t, { mode: 'json', c: opt.conc, duration: opt.duration, warmup: 1, cpu: CLIENT_CPU });
      const u = s.stop();
      const non200 = Object.entries(res.status_codes ?? {})
        .filter(([k]) => k !== '200')
        .reduce((x, [, n]) => x + n, 0);
      const run = {
        target: t.name,
        round: r + 1,
        c: opt.conc,
        rps: res.rps,
        requests: res.requests,
        errors: (res.errors ?? 0) + non200,
        latency_ms: res.latency_ms,
        cpu_pct: u.cpu_pct,
        rps_per_core: u.cpu_pct ? round(res.rps / (u.cpu_pct / 100), 0) : null,
        rss_mb_max: u.rss_mb_max,
        cpu_busy_pct: u.cpu_busy_pct,
        foreign_cpu_pct: u.foreign_cpu_pct,
        ...(res.parse_error ? { parse_error: res.parse_error, stderr: res.stderr } : {}),
      };
      runs.push(run);
      log(
        `  ${t.name}: ${run.rps} req/s (${t.name === 'upstream direct' ? 'upstream' : 'server'} CPU ${run.cpu_pct} %, ${run.rps_per_core} req/s per core), errors ${run.errors}`,
      );
    }
  }
  const summary = {};
  for (const t of targets) {
    const rs = runs.filter((x) => x.target === t.name);
    summary[t.name] = {
      rps: round(median(rs.map((x) => x.rps)), 0),
      cpu_pct: round(median(rs.map((x) => x.cpu_pct)), 0),
      rps_per_core: round(median(rs.map((x) => x.rps_per_core)), 0),
      p50_ms: median(rs.map((x) => x.latency_ms?.p50)),
      p99_ms: median(rs.map((x) => x.latency_ms?.p99)),
      errors: rs.reduce((x, y) => x + (y.errors ?? 0), 0),
    };
  }
  const pass = summary['pass-through (no-store)'];
  const hit = summary['exact hit JSON'];
  return {
    c: opt.conc,
    duration_s: opt.duration,
    rounds: opt.tpRounds,
    pinned: opt.pin !== 'none',
    summary,
    exact_hit_vs_pass_through: pass?.rps ? round(hit.rps / pass.rps, 2) : null,
    exact_hit_vs_pass_through_per_core: pass?.rps_per_core ? round(hit.rps_per_core / pass.rps_per_core, 2) : null,
    runs,
  };
}

// ————— numbers and the report —————

function mulberry(seed) {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle(xs, rand) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
/** `k` distinct integers of [0, n), in random order. */
function sample(n, k, rand) {
  const picked = new Set();
  while (picked.size < k) picked.add(Math.floor(rand() * n));
  return [...picked];
}
function percentile(xs, p) {
  const s = xs.filter(Number.isFinite).sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN;
}
function stats(xs) {
  const ok = xs.filter(Number.isFinite);
  return {
    n: ok.length,
    p50: round(percentile(ok, 0.5), 2),
    p95: round(percentile(ok, 0.95), 2),
    p99: round(percentile(ok, 0.99), 2),
    max: round(Math.max(...ok), 2),
    mean: round(mean(ok), 2),
  };
}
function mean(xs) {
  const ok = xs.filter(Number.isFinite);
  return ok.reduce((x, y) => x + y, 0) / Math.max(1, ok.length);
}
function median(xs) {
  const s = xs.filter(Number.isFinite).sort((x, y) => x - y);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function round(x, d) {
  return Number.isFinite(x) ? Number(x.toFixed(d)) : null;
}
function mbOf(st) {
  return st ? { rss: Math.round(st.rss / MB), hwm: Math.round(st.hwm / MB) } : null;
}

function targetsOf(out) {
  const t = {};
  for (const [variant, v] of Object.entries(out.variants))
    for (const [name, c] of Object.entries(v.latency?.cases ?? {}))
      if (c.target_p95_ms != null)
        t[`${variant}: ${name}`] = { p95: (c.hits_only ?? c).p95, target: c.target_p95_ms, met: c.met, ...(c.hits_only ? { of: 'hits only' } : {}) };
  return t;
}

function report(out) {
  const o = out.options;
  const s = out.seed;
  const lines = [
    `\`${out.command}\` — ${out.started_at.slice(0, 16).replace('T', ' ')} UTC, git ${out.git}; load average at start ${out.loadavg_start.join(' / ')}, at end ${out.loadavg_end.join(' / ')} (2 cores)`,
    '',
    `${o.entries.toLocaleString('en')} cached entries in one tenant and one scope (stateless requests to one alias, no system prompt: every entry is a candidate of every semantic lookup). ` +
      `${o.base.toLocaleString('en')} of them (LoCoMo questions and turns) carry their real USE-lite embedding; the others are those texts with a suffix and ${
        o.fill === 'mix'
          ? "the midpoint of their base's vector and another random base's, plus a little noise (points among the real embeddings"
          : "their base's vector plus isotropic gaussian noise (near-random points in 512 dimensions, a worst case for the HNSW graph"
      }; cosine to the base ${s.filler_cos_to_base_mean ?? '–'}, below the 0.9 threshold to a paraphrase). The gateway runs built, on PGlite + pgvector (HNSW) in a temporary directory, USE-lite on its worker threads, ` +
      `the fake upstream (instant answers) on CPU ${CLIENT_CPU}; ${
        o.pin === 'all'
          ? `the server pinned to CPU ${SERVER_CPU} (every thread), the client on CPU ${CLIENT_CPU}, throughout`
          : o.pin === 'throughput'
            ? `the server free on both cores for the latency cases and the breakdown, then pinned to CPU ${SERVER_CPU} (every thread) for the throughput runs, their load client on CPU ${CLIENT_CPU}`
            : 'nothing else pinned'
      }. ` +
      `Latency: c=1, ${o.requests} requests per case after ${o.warmup} warm-up, interleaved in ${o.rounds} rounds; time to the whole response (a stream: to \`data: [DONE]\`).`,
  ];
  for (const [variant, v] of Object.entries(out.variants)) {
    if (!v.latency) continue;
    const tp = v.throughput?.summary ?? {};
    const tpFor = {
      'upstream direct': tp['upstream direct'],
      'pass-through (no-store) JSON': tp['pass-through (no-store)'],
      'exact hit JSON': tp['exact hit JSON'],
      'semantic hit JSON (query vector from the LRU)': tp['semantic hit JSON (LRU)'],
    };
    lines.push(
      '',
      `### ${variant === 'redis' ? 'With Redis (exact hit = one Redis GET)' : 'Without Redis (exact hit = one SQL read in PGlite)'}`,
      '',
      `| case | x-cache | p50 ms | p95 ms | p99 ms | req/s (c=${v.throughput?.c ?? o.conc}) | target p95 | met? | mismatches |`,
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const [name, c] of Object.entries(v.latency.cases)) {
      const x = tpFor[name];
      const xc =
        name === 'upstream direct'
          ? '–'
          : name.startsWith('pass')
            ? 'off'
            : name.startsWith('miss')
              ? 'miss'
              : name.startsWith('exact')
                ? 'hit exact'
                : 'hit semantic';
      const mm = c.mismatches + c.wrong_entry === 0 ? '0' : `**${c.mismatches}**${c.wrong_entry ? ` (+${c.wrong_entry} other entry)` : ''}`;
      const met = c.met == null ? '–' : c.met ? '✅' : '❌';
      const target = c.target_p95_ms != null ? `≤ ${c.target_p95_ms} ms` : '–';
      if (c.hits_only) {
        lines.push(
          `| ${name}, all ${c.n} requests | ${xc} or miss | ${c.p50} | ${c.p95} | ${c.p99} | ${x ? `${x.rps} (CPU ${x.cpu_pct} %)` : '–'} | | | ${mm} |`,
        );
        lines.push(`| ↳ the ${c.hits_only.n} hits only | ${xc} | ${c.hits_only.p50} | ${c.hits_only.p95} | ${c.hits_only.p99} | | ${target} | ${met} | |`);
      } else lines.push(`| ${name} | ${xc} | ${c.p50} | ${c.p95} | ${c.p99} | ${x ? `${x.rps} (CPU ${x.cpu_pct} %)` : '–'} | ${target} | ${met} | ${mm} |`);
    }
    const problems = Object.entries(v.latency.cases).filter(([, c]) => c.mismatches > 0);
    if (problems.length > 0) lines.push('', 'Mismatches: ' + problems.map(([n, c]) => `${n}: ${JSON.stringify(c.problems)}`).join('; '));
    if (v.throughput) {
      const h = tp['exact hit JSON'];
      const p = tp['pass-through (no-store)'];
      lines.push(
        '',
        `Throughput per core (c=${v.throughput.c}, ${v.throughput.duration_s} s × ${v.throughput.rounds}, medians; req/s ÷ the server's CPU share): exact hit **${h?.rps_per_core ?? '–'}** req/s, ` +
          `pass-through ${p?.rps_per_core ?? '–'} req/s (×${v.throughput.exact_hit_vs_pass_through_per_core ?? '–'}; raw req/s ×${v.throughput.exact_hit_vs_pass_through ?? '–'}), ` +
          `semantic hit from the LRU ${tp['semantic hit JSON (LRU)']?.rps_per_core ?? '–'} req/s; upstream direct ${tp['upstream direct']?.rps ?? '–'} req/s.` +
          (Object.values(tp).some((x) => x.errors > 0)
            ? ` Errors: ${Object.entries(tp)
                .map(([n, x]) => `${n} ${x.errors}`)
                .join(', ')}.`
            : ''),
      );
    }
    if (v.diag) {
      const d = v.diag.ms;
      const f = (k) => (d[k] ? `${d[k].p50} / ${d[k].p95}` : '–');
      lines.push(
        '',
        `Where a semantic hit goes (in the server, no HTTP, ${d.embed?.n ?? 0} fresh paraphrases, p50 / p95 ms): query embedding ${f('embed')}, from the LRU ${f('embed_lru')}, ` +
          `vector search (top 3, filter scope) ${f('search')}, entry read SQL ${f('get_sql')}${d.get_redis ? `, Redis ${f('get_redis')}` : ''}; ` +
          `the adapter's "≤ 20,000 points?" count (memoised 10 s) ${f('count')}. HNSW index in the plan: ${v.diag.uses_hnsw ? 'yes' : '**no**'}; top hit = own entry ${v.diag.top1_own}/${d.search?.n ?? 0}.`,
      );
      const rc = v.diag.recall ?? {};
      if (rc.exact)
        lines.push(
          '',
          `Recall of the vector search (the same ${rc.exact.n} paraphrases; the adapter's query, top 3, filter scope):`,
          '',
          '| search | plan | same top hit as the exact scan | top hit ≥ threshold (a hit) | p50 ms | p95 ms |',
          '|---|---|---|---|---|---|',
          ...Object.entries(rc).map(
            ([m, r]) =>
              `| ${m === 'exact' ? 'exact scan (index scans off)' : `HNSW, ef_search ${m.slice(2)}${m === 'ef40' ? " (pgvector's default, the adapter's for top 3)" : ''}`} | ${r.plan_uses_hnsw ? 'HNSW index' : 'no HNSW: every point ranked'} | ${r.same_top1}/${r.n} | ${r.hit}/${r.n} | ${r.p50} | ${r.p95} |`,
          ),
        );
    }
    lines.push(
      '',
      `Server RSS MB (VmRSS / VmHWM): after start ${fmtRss(v.rss.after_start)}, after the latency run ${fmtRss(v.rss.after_latency)}, at the end ${fmtRss(v.rss.end)}.`,
    );
  }
  const t = s.timings;
  lines.push(
    '',
    `Seed: ${s.seconds} s in all — keys ${t.keys_s} s, rows ${t.rows_s} s${t.redis_s != null ? `, Redis copies ${t.redis_s} s` : ''}, ${o.base} embeddings ${t.embed_s} s (${t.embed_per_s}/s), ` +
      `vectors ${t.vectors_s} s, HNSW build ${t.hnsw_s} s, ANALYZE ${t.analyze_s} s; tables: entries ${s.table_mb.entries} MB, vectors ${s.table_mb.vectors} MB (HNSW ${s.table_mb.hnsw} MB). ` +
      `Seeding server RSS after the seed ${fmtRss(s.rss_after_seed)} MB (the HNSW build's memory stays in PGlite's WASM heap). ` +
      `Paraphrases: ${s.paraphrases.kept} kept of ${s.paraphrases.tried} tried (own entry not the nearest: ${s.paraphrases.own_not_nearest}, under threshold + 0.01: ${s.paraphrases.below_threshold}), similarity p50 ${s.paraphrases.sim_p50}, min ${s.paraphrases.sim_min}.`,
  );
  return lines.join('\n');
}

function fmtRss(r) {
  return r ? `${r.rss} / ${r.hwm}` : '–';
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runCacheBench();
