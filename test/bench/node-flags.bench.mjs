#!/usr/bin/env node
/**
 * Two ways of starting this gateway (Node or V8 flags, or two builds), measured side by side in one run.
 *
 *   npm run build && node test/bench/node-flags.bench.mjs --a "" --b "--max-semi-space-size=32" [--rounds 4]
 *        [--modes json[,stream]] [--duration 5] [--rate 400] [--rate-duration 10] [--session]
 *        [--a-root DIR] [--b-root DIR] [--a-config JSON] [--b-config JSON] [--services-cpu 0|any]
 *
 * `--a-root`/`--b-root` run a variant from another checkout (built, with node_modules), e.g. a git
 * worktree of the commit before a change: a before/after of code, not flags. `--a-config`/`--b-config`
 * merge a JSON object into that variant's config file, e.g. `--b-config '{"session":{"synchronousCommit":false}}'`:
 * a before/after of a setting. `--session` sends a
 * `session_id` from a fresh pool of 64 per measurement, as the gateway bench's ours+session.
 *
 * As in gateway.bench.mjs: the fake upstream, the load, Postgres and Redis on CPU 0 (`--services-cpu any`:
 * Postgres and Redis not pinned), each gateway alone on CPU 1, the
 * idle one frozen (SIGSTOP) while the other is measured. Both gateways share one fresh schema and
 * Redis key prefix (removed at the end). Each round, per mode, each variant in turn (order alternating):
 * wrk at c=64 for `--duration` s (req/s and the process's CPU per request), then the open-loop client
 * at `--rate` req/s for `--rate-duration` s (latency p50/p99) — so every latency cell follows a c=64
 * cell, as in the gateway bench, where the heap the c=64 load leaves behind shapes the tail.
 * Prints the medians over rounds and every round's p99.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { deepMerge } from '../../dist/src/config/load.js';
import {
  argValue,
  ensurePeers,
  loadClient,
  log,
  only,
  peersDir,
  pinServices,
  repoRoot,
  sampler,
  settle,
  startPinned,
  stopAll,
  waitHttp,
  wrk,
} from './lib/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => argValue(args, name, dflt);
const commitOf = (root) => {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
};
const variants = ['a', 'b'].map((v) => {
  const flags = opt(v, '');
  const root = path.resolve(opt(`${v}-root`, repoRoot));
  const config = opt(`${v}-config`, '');
  const label = `${flags || '(no flags)'}${root === repoRoot ? '' : ` @ ${commitOf(root)}`}${config ? ` ${config}` : ''}`;
  return { flags, root, label, config: config ? JSON.parse(config) : {} };
});
const SESSION = args.includes('--session');
const ROUNDS = Number(opt('rounds', '4'));
const MODES = opt('modes', 'json').split(',');
const DURATION = Number(opt('duration', '5'));
const RATE = Number(opt('rate', '400'));
const RATE_DURATION = Number(opt('rate-duration', '10'));
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const UPSTREAM_PORT = 18080;

ensurePeers();
const dir = fs.mkdtempSync('/tmp/node-flags-');
const runId = `bench_nf_${randomBytes(4).toString('hex')}`;
// Postgres and Redis on the load's CPU, as in gateway.bench.mjs: the gateway alone on CPU 1.
const SERVICES_CPU = opt('services-cpu', '0');
const unpinServices = SERVICES_CPU === 'any' ? () => {} : pinServices(Number(SERVICES_CPU));
// Ctrl-C stops what the bench started; exiting puts Postgres and Redis back on every CPU.
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => void stopAll().finally(() => process.exit(130)));
try {
  startPinned('upstream', 0, process.execPath, ['fake-upstream.mjs'], {
    cwd: peersDir,
    env: { PORT: String(UPSTREAM_PORT), CHUNKS: '20' },
    logFile: path.join(dir, 'upstream.log'),
  });
  const baseConfig = {
    providers: { fake: { kind: 'openai', baseUrl: `http://127.0.0.1:${UPSTREAM_PORT}/v1`, apiKey: 'x' } },
    models: { 'gpt-4o-mini': { targets: [{ provider: 'fake', model: 'gpt-4o-mini' }] } },
    memory: { episodic: { enabled: false } },
    jobs: { process: false },
    embeddings: { preload: false },
  };
  const bodyFile = path.join(dir, 'body.json');
  fs.writeFileSync(bodyFile, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }));
  const adminKey = `bench-admin-${randomBytes(12).toString('hex')}`;
  for (const [i, v] of variants.entries()) {
    const port = 18090 + i;
    const cfg = path.join(dir, `config-${i}.json`);
    fs.writeFileSync(cfg, JSON.stringify(deepMerge(baseConfig, v.config)));
    v.entry = startPinned(`gateway-${i}`, 1, process.execPath, [...v.flags.split(' ').filter(Boolean), 'dist/src/main.js'], {
      cwd: v.root,
      logFile: path.join(dir, `gateway-${i}.log`),
      env: {
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        ADMIN_API_KEY: adminKey,
        CONFIG_FILE: cfg,
        LOG_LEVEL: 'info',
        DATABASE_URL,
        DATABASE_SCHEMA: runId,
        REDIS_URL,
        REDIS_KEY_PREFIX: `${runId}:`,
      },
    });
    await waitHttp(`http://127.0.0.1:${port}/healthz`, { entry: v.entry, timeoutMs: 90_000 });
    const admin = async (p, body) => {
      const r = await fetch(`http://127.0.0.1:${port}${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`POST ${p}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const tenant = await admin('/admin/v1/tenants', { name: `flags-${i}` });
    const { key } = await admin('/admin/v1/keys', { tenant_id: tenant.id });
    v.target = { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: { Authorization: `Bearer ${key}` }, bodyFile, pid: v.entry.pid };
    v.results = Object.fromEntries(MODES.map((m) => [m, { rps: [], cpuUs: [], p50: [], p99: [], rateCpu: [] }]));
  }
  const entries = variants.map((v) => v.entry);
  for (const mode of MODES)
    for (const v of variants) {
      only(v.entry, entries);
      if (SESSION) v.target.session = { pool: 64, prefix: `w${randomBytes(4).toString('hex')}-` };
      await wrk(v.target, { mode, c: 16, duration: 6, cpu: 0 });
      await settle(v.target.pid);
    }
  for (let r = 0; r < ROUNDS; r++)
    for (const mode of MODES)
      for (const v of r % 2 ? [...variants].reverse() : variants) {
        only(v.entry, entries);
        if (SESSION) v.target.session = { pool: 64, prefix: `s${randomBytes(4).toString('hex')}-` };
        const s = sampler(v.target.pid);
        const w = await wrk(v.target, { mode, c: 64, duration: DURATION, cpu: 0 });
        const proc = s.stop();
        await settle(v.target.pid);
        if (SESSION) v.target.session = { pool: 64, prefix: `s${randomBytes(4).toString('hex')}-` };
        const rs = sampler(v.target.pid);
        const o = await loadClient(v.target, { mode, c: 512, rate: RATE, duration: RATE_DURATION, warmup: 1.5, cpu: 0 });
        const atRate = rs.stop();
        await settle(v.target.pid);
        const res = v.results[mode];
        res.rps.push(w.rps);
        res.cpuUs.push(((proc.cpu_pct / 100) * 1e6) / w.rps);
        res.p50.push(o.latency_ms.p50);
        res.p99.push(o.latency_ms.p99);
        // The whole open-loop run (its warm-up included) at the fixed rate: CPU per request there.
        res.rateCpu.push(((atRate.cpu_pct / 100) * 1e6) / RATE);
        log(
          `r${r} ${mode} ${v.label}: ${Math.round(w.rps)} req/s, ${Math.round(res.cpuUs.at(-1))} µs CPU/request; at ${RATE}/s p50 ${o.latency_ms.p50} p99 ${o.latency_ms.p99} ms, ${Math.round(res.rateCpu.at(-1))} µs CPU/request`,
        );
      }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const lines = [
    `Two ways of starting this gateway, ${ROUNDS} rounds interleaved (medians; c=64 wrk ${DURATION} s, then ${RATE} req/s open loop ${RATE_DURATION} s)`,
    '',
    "| flags | mode | req/s at c=64 | CPU µs / request | p50 ms at rate | p99 ms at rate | CPU µs / request at rate | every round's p99 |",
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const mode of MODES)
    for (const v of variants) {
      const res = v.results[mode];
      lines.push(
        `| \`${v.label}\` | ${mode} | ${Math.round(median(res.rps))} | ${Math.round(median(res.cpuUs))} | ${median(res.p50)} | ${median(res.p99)} | ${Math.round(median(res.rateCpu))} | ${res.p99.join(', ')} |`,
      );
    }
  const roots = variants
    .map((v, i) => `${v.root === repoRoot ? '' : ` --${'ab'[i]}-root ${v.root}`}${Object.keys(v.config).length ? ` --${'ab'[i]}-config '${JSON.stringify(v.config)}'` : ''}`)
    .join('');
  const shown = `--a ${JSON.stringify(variants[0].flags)} --b ${JSON.stringify(variants[1].flags)}${roots}${SESSION ? ' --session' : ''} --rounds ${ROUNDS} --modes ${MODES.join(',')} --duration ${DURATION} --rate ${RATE} --rate-duration ${RATE_DURATION}`;
  lines.push('', `\`node test/bench/node-flags.bench.mjs ${shown}\``);
  console.log(lines.join('\n'));
} finally {
  await stopAll();
  unpinServices();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${runId} CASCADE`);
  await client.end();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${runId}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
