#!/usr/bin/env node
/**
 * What a document's ingestion does to the gateway's other requests on the embedded default.
 *
 *   npm run build && node test/bench/ingest-stall.bench.mjs [--seconds 40] [--data DIR]
 *
 * Starts the built gateway in this process on PGlite (a temporary directory, USE-lite on its worker
 * threads), uploads three LoCoMo conversations as one ~200 KB markdown document, and once it is being
 * embedded measures for `--seconds`:
 *  - the event loop's longest delay in each second (`monitorEventLoopDelay`, 5 ms resolution);
 *  - `GET /v1/models` every 50 ms from a client in another process (a request that waits only for
 *    the event loop, so its latency shows how long the gateway was held);
 *  - each vector upsert of the ingestion, and each SQL statement over 15 ms.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { argValue, fromDist, repoRoot } from './lib/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => argValue(args, name, dflt);
const SECONDS = Number(opt('seconds', '40'));
const DATA = opt('data', join(repoRoot, '../shared/bench/locomo'));

const { loadConfig } = await fromDist('src/config/load.js');
const { createGateway } = await fromDist('src/gateway.js');
const pino = (await import('pino')).default;

const dir = mkdtempSync(join(tmpdir(), 'ingest-stall-'));
const config = loadConfig(
  {},
  {
    server: { host: '127.0.0.1', port: 0 },
    database: { dataDir: dir },
    auth: { adminApiKey: 'bench-admin-key-0123456789' },
    providers: { none: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'unused' } },
    models: { bench: { targets: [{ provider: 'none', model: 'gpt-4o-mini' }] } },
    embeddings: { preload: true },
    log: { level: 'warn' },
  },
);
const gateway = await createGateway(config, pino({ level: 'warn' }, pino.destination(2)));
const server = createServer(gateway.app).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const url = `http://127.0.0.1:${server.address().port}`;
try {
  const tenant = await gateway.deps.tenancy.createTenant({ name: 'stall' });
  const { key } = await gateway.deps.tenancy.createKey({ tenantId: tenant.id });
  const call = async (method, path, body) =>
    (
      await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body && JSON.stringify(body),
      })
    ).json();

  const sessions = ['26', '30', '41'].flatMap((f) => {
    const d = JSON.parse(readFileSync(join(DATA, `${f}.json`), 'utf8'));
    return Object.entries(d.conversation ?? d).filter(([k, v]) => /^session_\d+$/.test(k) && Array.isArray(v));
  });
  const text = sessions.flatMap(([k, turns]) => [`## ${k}`, ...turns.map((t) => `${t.speaker}: ${t.text}`)]).join('\n\n');
  const collection = await call('POST', '/v1/collections', { name: 'stall' });
  const up = await call('POST', `/v1/collections/${collection.id}/documents`, { text, title: 'three conversations' });
  if (!up.data) throw new Error(`upload refused: ${JSON.stringify(up)}`);
  const id = up.data[0].id;
  for (;;) {
    const s = await call('GET', `/v1/documents/${id}`);
    if (s.status === 'embedding' || s.status === 'ready') break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // Time each vector upsert and each slow statement (wrapped on the objects the ingestor calls).
  const upserts = [];
  const store = gateway.deps.docVectors;
  const upsert = store.upsert.bind(store);
  store.upsert = async (a) => {
    const t = performance.now();
    await upsert(a);
    upserts.push(performance.now() - t);
  };
  const slow = new Map();
  const sql = gateway.deps.sql;
  const query = sql.query.bind(sql);
  sql.query = async (text, ...rest) => {
    const t = performance.now();
    try {
      return await query(text, ...rest);
    } finally {
      const ms = performance.now() - t;
      if (ms > 15) {
        const k = text.replace(/\s+/g, ' ').slice(0, 50);
        slow.set(k, [...(slow.get(k) ?? []), ms]);
      }
    }
  };

  const prober = spawn(
    process.execPath,
    [
      '-e',
      `const out = []; const end = Date.now() + ${SECONDS * 1000};
       (async () => {
         while (Date.now() < end) {
           const t = performance.now();
           await fetch('${url}/v1/models', { headers: { authorization: 'Bearer ${key}' } }).then((r) => r.text());
           out.push(performance.now() - t);
           await new Promise((r) => setTimeout(r, 50));
         }
         console.log(JSON.stringify(out));
       })();`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let probeOut = '';
  prober.stdout.on('data', (d) => {
    probeOut += d;
  });
  const probed = new Promise((r) => prober.on('exit', r));

  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const perSecond = [];
  for (let i = 0; i < SECONDS; i++) {
    loop.reset();
    await new Promise((r) => setTimeout(r, 1000));
    perSecond.push(loop.max / 1e6);
  }
  await probed;
  // The first request of a new process pays for loading fetch and opening the connection: left out.
  const [coldMs, ...probe] = JSON.parse(probeOut);
  const status = await call('GET', `/v1/documents/${id}`);

  const q = (xs, p) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)].toFixed(1) : '–');
  console.log(
    [
      `Embedded default (PGlite), a ${text.length}-character document ingesting (${status.status} at the end), ${SECONDS} s measured:`,
      '',
      '| measure | p50 ms | p90 ms | p99 ms | max ms | n |',
      '|---|---:|---:|---:|---:|---:|',
      `| longest event-loop delay in each second | ${q(perSecond, 0.5)} | ${q(perSecond, 0.9)} | ${q(perSecond, 0.99)} | ${q(perSecond, 1)} | ${perSecond.length} |`,
      `| GET /v1/models every 50 ms, from another process | ${q(probe, 0.5)} | ${q(probe, 0.9)} | ${q(probe, 0.99)} | ${q(probe, 1)} | ${probe.length} |`,
      `| a vector upsert of the ingestion (one batch of passages) | ${q(upserts, 0.5)} | ${q(upserts, 0.9)} | ${q(upserts, 0.99)} | ${q(upserts, 1)} | ${upserts.length} |`,
      ...[...slow].map(([k, v]) => `| statement over 15 ms: \`${k}…\` | ${q(v, 0.5)} | ${q(v, 0.9)} | ${q(v, 0.99)} | ${q(v, 1)} | ${v.length} |`),
      '',
      `The prober's first request (a new process's first fetch, left out): ${coldMs.toFixed(1)} ms.`,
      '',
      `\`node test/bench/ingest-stall.bench.mjs ${args.join(' ')}\``.replace(' `', '`'),
    ].join('\n'),
  );
} finally {
  server.closeAllConnections();
  server.close();
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
}
