import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import pino, { type Logger } from 'pino';
import { deepMerge, loadConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import type { Sql } from '../../src/store/sql.js';
import { deleteRedisKeys, dropSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './env.js';

/** Response bodies as tests read them: parsed JSON of any shape. */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface TestGatewayOptions {
  /** `pg` (real Postgres, unique schema) or `pglite` (in memory). Default pg. */
  sql?: 'pg' | 'pglite';
  /** Use the real Redis (unique key prefix), or a custom URL (e.g. a dead port). Default true. */
  redis?: boolean | string;
  /** Config overrides: providers, models, router, session… */
  config?: Record<string, unknown>;
  /** Reuse an existing schema (a second gateway on the same database). */
  schema?: string;
  keyPrefix?: string;
  /** A logger to capture what the gateway logs (silent otherwise). */
  logger?: Logger;
}

export interface TestGateway {
  url: string;
  gateway: Gateway;
  schema: string;
  keyPrefix: string;
  /** Creates a tenant and a key; returns an `openai` client bound to it. */
  tenant(name?: string): Promise<{ id: string; key: string; client: OpenAI }>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  call(method: string, path: string, opts?: { key?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: Json; headers: Headers }>;
  close(): Promise<void>;
}

/** A real gateway on 127.0.0.1:0, built by the same createGateway() as production. */
export async function startGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const schema = opts.schema ?? uniqueName('t');
  const keyPrefix = opts.keyPrefix ?? `${uniqueName('t')}:`;
  const redisUrl = opts.redis === false ? undefined : typeof opts.redis === 'string' ? opts.redis : TEST_REDIS_URL;
  const config = loadConfig(
    {},
    // Deep: a test can change `database.url` and keep the test schema.
    deepMerge({
      server: { host: '127.0.0.1', port: 0 },
      database: { url: opts.sql === 'pglite' ? undefined : TEST_DATABASE_URL, schema, poolSize: 4 },
      redis: { url: redisUrl, keyPrefix, commandTimeoutMs: 200 },
      auth: { adminApiKey: ADMIN_KEY },
      router: { backoffMs: 5, maxBackoffMs: 20, timeoutMs: 5000 },
      log: { level: 'silent' },
      // Tests that never embed do not start the embedding worker threads, nor index turns.
      embeddings: { preload: false },
      memory: { episodic: { enabled: false } },
    }, opts.config ?? {}),
  );
  let sql: Sql | undefined;
  if (opts.sql === 'pglite') sql = await createPgliteSql({ dataDir: undefined, schema: 'public' });
  const gateway = await createGateway(config, opts.logger ?? pino({ level: 'silent' }), sql ? { sql } : {});
  const server: Server = createServer(gateway.app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function call(method: string, path: string, o: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...o.headers };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    if (o.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body: body as Json, headers: res.headers };
  }

  return {
    url,
    gateway,
    schema,
    keyPrefix,
    call,
    admin: (method, path, body) => call(method, path, { key: ADMIN_KEY, body }),
    async tenant(name = 'acme') {
      const t = await call('POST', '/admin/v1/tenants', { key: ADMIN_KEY, body: { name } });
      const k = await call('POST', '/admin/v1/keys', { key: ADMIN_KEY, body: { tenant_id: t.body.id } });
      return { id: t.body.id, key: k.body.key, client: new OpenAI({ apiKey: k.body.key, baseURL: `${url}/v1`, maxRetries: 0 }) };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
      if (sql) await sql.close();
      if (!opts.schema && opts.sql !== 'pglite') await dropSchema(schema);
      // Also when Redis was reached through a relay: the keys live on the same test server.
      if (!opts.keyPrefix && redisUrl) await deleteRedisKeys(keyPrefix);
    },
  };
}

/** Polls a document until its ingestion ends (ready or failed); returns it as GET /v1/documents/:id shows it. */
export async function documentSettled(gw: TestGateway, key: string, id: string, timeoutMs = 60_000): Promise<Json> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await gw.call('GET', `/v1/documents/${id}`, { key });
    if (res.status === 200 && (res.body.status === 'ready' || res.body.status === 'failed')) return res.body;
    if (Date.now() > until) throw new Error(`document ${id} still ${res.body.status ?? res.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Config for a provider named `up` at `baseUrl` and an alias `m` routed to it. */
export function upstreamConfig(targets: Array<{ name: string; baseUrl: string; kind?: 'openai' | 'anthropic'; model?: string; timeoutMs?: number; retries?: number; weight?: number }>, alias = 'm') {
  return {
    providers: Object.fromEntries(targets.map((t) => [t.name, { kind: t.kind ?? 'openai', baseUrl: t.baseUrl, apiKey: `sk-secret-${t.name}-0123456789` }])),
    models: {
      [alias]: {
        targets: targets.map((t) => ({ provider: t.name, model: t.model ?? 'gpt-4o-mini', ...(t.timeoutMs ? { timeoutMs: t.timeoutMs } : {}), ...(t.retries !== undefined ? { retries: t.retries } : {}), ...(t.weight ? { weight: t.weight } : {}) })),
      },
    },
  };
}

