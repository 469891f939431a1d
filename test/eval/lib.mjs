/**
 * What the evals share: a built gateway on an empty embedded database (or a kept one), JSON calls
 * with an API key, and a small concurrency pool.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The options every eval takes: the LoCoMo files, an existing gateway instead of a started one
 * (`--url --key`, or `--admin-key` to make a tenant), searches in flight, misses listed, and a
 * database directory to keep and reuse (its imports are idempotent).
 */
export const COMMON_OPTIONS = {
  data: { type: 'string', default: resolve(root, '../shared/bench/locomo') },
  url: { type: 'string' },
  key: { type: 'string' },
  'admin-key': { type: 'string' },
  concurrency: { type: 'string', default: '4' },
  verbose: { type: 'boolean', default: false },
  keep: { type: 'string' },
};

function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/**
 * Starts dist/src/main.js on 127.0.0.1 with PGlite under a temporary directory (or `keep`, reused
 * next time), no Redis, and `config` as its config file when given. Resolves once /readyz answers.
 */
export async function startGateway({ name, keep, config }) {
  const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), `${name}-`));
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const adminKey = `${name}-eval-admin-key-0123456789ab`;
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [join(root, 'dist/src/main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      ADMIN_API_KEY: adminKey,
      CONFIG_FILE: config ? join(dir, 'config.json') : '',
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      REDIS_URL: '',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {}
    if (child.exitCode !== null || i > 600) throw new Error('the gateway did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () => {
    child.kill('SIGTERM');
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  return { url, adminKey, dir, stop };
}

/** A JSON call with a bearer key; any non-2xx answer throws with its body. */
export async function call(url, key, method, path, body) {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Runs `fn` over `items`, `n` at a time. */
export async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}
