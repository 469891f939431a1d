import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/ingest.js';
import { runReindex } from '../../src/cli/reindex.js';
import { embeddingPassages } from '../../src/knowledge/chunk-vectors.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { documentSettled, startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';
import { startFakeQdrant } from '../helpers/vector-fake-qdrant.js';

// `context-gateway reindex` against what a gateway wrote: real Postgres (unique schema), real Redis
// (unique key prefix), the real use-lite embedder, and a vector store both reach over HTTP: the
// in-process stand-in for Qdrant's REST API, one per run (the test Postgres has no pgvector, an
// in-memory store lives inside one process, and a full reindex drops whole collections, which on a
// shared Qdrant would be other runs' too). The derived copies are wiped through the gateway's own
// stores, the command runs in-process with the same configuration (read from the environment, as
// the CLI reads it), and the counts must come back exactly to what SQL holds.

type Tenant = Awaited<ReturnType<TestGateway['tenant']>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the command in-process with `env` as its whole environment; captures both streams. */
async function reindex(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: {
      write: (s: string) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
      isTTY: false,
    },
    env,
    cwd: process.cwd(),
  };
  const code = await runReindex(args, io);
  return { code, stdout, stderr };
}

/** The count a summary line reports for a part (`  turns   8 turns re-embedded…`). */
const reported = (stdout: string, part: string): number => Number(new RegExp(`^ {2}${part} +(\\d+) `, 'm').exec(stdout)?.[1]);

const HANDBOOK = `# Handbook

## Expenses

Hotels are reimbursed up to 150 EUR per night in Europe and 200 USD per night elsewhere. Keep every receipt.

## Security

A lost badge or identification card must be reported to the front desk within one day.

## Parking

Bicycles go in the basement rack; the code changes on the first of every month.
`;

describe('context-gateway reindex', () => {
  let qdrant: Awaited<ReturnType<typeof startFakeQdrant>>;
  let gw: TestGateway;
  let env: Record<string, string>;
  let a: Tenant;
  let b: Tenant;
  let redis: Redis;
  const docs: Record<string, { collection: string; document: string }> = {};

  const deps = () => gw.gateway.deps;
  const collections = () => {
    const d = deps();
    if (!d.vectors || !d.indexer) throw new Error('episodic memory is off in this gateway');
    return {
      turns: { store: d.vectors, name: d.indexer.collection.name },
      chunks: { store: d.docVectors, name: d.documents.spec.name },
      facts: { store: d.vectors, name: d.factIndex.spec.name },
    };
  };
  type Kind = keyof ReturnType<typeof collections>;
  const KINDS: Kind[] = ['turns', 'chunks', 'facts'];
  const vectorCount = (kind: Kind, tenantId: string) => {
    const c = collections()[kind];
    return c.store.count({ collection: c.name, tenantId });
  };
  const wipe = async (kinds: Kind[], tenants: Tenant[]) => {
    for (const kind of kinds) {
      const c = collections()[kind];
      for (const t of tenants) await c.store.deleteByFilter({ collection: c.name, tenantId: t.id, filter: {} });
    }
  };
  const sqlCount = async (query: string, params: string[]) => Number((await deps().sql.query<{ n: number }>(query, params)).rows[0]?.n);
  /** What SQL says each collection must hold for a tenant. */
  const expected = async (t: Tenant): Promise<Record<Kind, number>> => {
    const { rows: chunks } = await deps().sql.query<{ text: string; heading_path: string[]; passage_tokens: number | null }>(
      `SELECT k.text, k.heading_path, (c.chunking->>'passage_tokens')::int AS passage_tokens
       FROM chunks k JOIN documents d ON d.tenant_id = k.tenant_id AND d.id = k.document_id JOIN collections c ON c.tenant_id = d.tenant_id AND c.id = d.collection_id
       WHERE k.tenant_id = $1 AND d.status = 'ready'`,
      [t.id],
    );
    const tokenizer = getTokenizer('o200k_base');
    return {
      turns: await sqlCount("SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND role IN ('user', 'assistant') AND btrim(content) <> ''", [t.id]),
      chunks: chunks.reduce((n, c) => n + embeddingPassages({ text: c.text, headingPath: c.heading_path }, tokenizer, c.passage_tokens ?? 0).length, 0),
      facts: await sqlCount('SELECT count(*)::int AS n FROM memories WHERE tenant_id = $1 AND valid_to IS NULL', [t.id]),
    };
  };
  const counts = async (t: Tenant): Promise<Record<Kind, number>> => ({
    turns: await vectorCount('turns', t.id),
    chunks: await vectorCount('chunks', t.id),
    facts: await vectorCount('facts', t.id),
  });

  const hotKeys = async (t?: Tenant) => (await redis.keys(`${gw.keyPrefix}st:{${t ? `${t.id}:` : ''}*`)).sort();
  /** Reads the session through the context pipeline, which copies it into Redis; waits for the copy. */
  const readSession = async (t: Tenant, session: string) => {
    const res = await gw.call('POST', '/v1/context', { key: t.key, body: { model: 'm', session_id: session, messages: [{ role: 'user', content: 'and?' }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (let i = 0; i < 50 && (await hotKeys(t)).length < 2; i++) await sleep(20);
    expect(await hotKeys(t)).toHaveLength(2);
  };
  const settled = async (t: Tenant, session: string) => {
    for (let i = 0; ; i++) {
      const res = await gw.call('GET', `/v1/sessions/${session}`, { key: t.key });
      if (res.body.memory?.turns_pending_embedding === 0) return;
      if (i > 200) throw new Error(`session ${session} is still being embedded`);
      await sleep(100);
    }
  };
  const findFact = async (t: Tenant, query: string) =>
    (await gw.call('POST', '/v1/memories/search', { key: t.key, body: { user: 'ada', query, top_k: 1 } })).body.data;
  const findChunk = async (t: Tenant, query: string) =>
    (await gw.call('POST', `/v1/collections/${docs[t.id]?.collection}/search`, { key: t.key, body: { query, mode: 'vector', top_k: 1 } })).body.data;
  const findTurn = async (t: Tenant, query: string) => {
    const [vector] = await deps().embedder.embed([query], { kind: 'query' });
    const c = collections().turns;
    return c.store.search({ collection: c.name, tenantId: t.id, vector: vector as Float32Array, topK: 1 });
  };

  beforeAll(async () => {
    qdrant = await startFakeQdrant();
    gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: 'http://127.0.0.1:9/v1' }]),
        embeddings: { threads: 1 },
        memory: { episodic: { enabled: true, sweepIntervalMs: 200 } },
        // Reads go to Redis (not this process's own copy of the session), so refills can be seen there.
        session: { localSessions: 0 },
        vector: { kind: 'qdrant', url: qdrant.url },
      },
    });
    // The CLI's own environment: the same database schema, Redis prefix and vector store.
    env = {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: gw.schema,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: gw.keyPrefix,
      VECTOR_STORE: 'qdrant',
      QDRANT_URL: qdrant.url,
      EMBEDDINGS_THREADS: '1',
      LOG_LEVEL: 'silent',
    };
    redis = new Redis(TEST_REDIS_URL);
    a = await gw.tenant('acme');
    b = await gw.tenant('beta');

    const imported = await Promise.all([
      gw.call('POST', '/v1/sessions/trip/messages', {
        key: a.key,
        body: {
          user: 'ada',
          messages: [
            { role: 'user', content: 'My sister Beatrix keeps three alpacas on her farm near Lisbon.' },
            { role: 'assistant', content: 'Alpacas! That sounds lovely.' },
            { role: 'user', content: 'What is the weather at the cabin?' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"at":"cabin"}' } }] },
            { role: 'tool', tool_call_id: 'c1', content: 'sunny, 21 degrees' },
            { role: 'assistant', content: 'Sunny and 21 degrees at the cabin.' },
          ],
        },
      }),
      gw.call('POST', '/v1/sessions/notes/messages', {
        key: b.key,
        body: {
          messages: [
            { role: 'user', content: 'The wifi password at the lake house is sunflower-42.' },
            { role: 'assistant', content: 'Noted.' },
          ],
        },
      }),
    ]);
    for (const r of imported) expect(r.status, JSON.stringify(r.body)).toBe(201);

    for (const t of [a, b]) {
      const col = await gw.call('POST', '/v1/collections', {
        key: t.key,
        body: { name: 'Handbook', chunking: { target_tokens: 64, overlap_tokens: 0, passage_tokens: 20 } },
      });
      const up = await gw.call('POST', `/v1/collections/${col.body.id}/documents`, { key: t.key, body: { text: HANDBOOK, title: 'Handbook' } });
      expect(up.status).toBe(202);
      expect(await documentSettled(gw, t.key, up.body.data[0].id)).toMatchObject({ status: 'ready' });
      docs[t.id] = { collection: col.body.id, document: up.body.data[0].id };
    }

    const remember = (t: Tenant, text: string) => gw.call('POST', '/v1/memories', { key: t.key, body: { user: 'ada', text } });
    await remember(a, 'Ada is allergic to peanuts.');
    const moved = await remember(a, 'Ada lives in Porto.');
    const dropped = await remember(a, 'Ada owns a red bicycle.');
    await remember(b, 'Ada prefers window seats on trains.');
    expect((await gw.call('PATCH', `/v1/memories/${moved.body.id}`, { key: a.key, body: { text: 'Ada lives in Lisbon now.' } })).status).toBe(200);
    expect((await gw.call('DELETE', `/v1/memories/${dropped.body.id}`, { key: a.key })).status).toBe(200);

    await Promise.all([settled(a, 'trip'), settled(b, 'notes')]);
    await readSession(a, 'trip');
    await readSession(b, 'notes');
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await gw?.close();
    await qdrant?.close();
  });

  it('rebuilds every derived copy of every tenant: vector counts back to what SQL holds, stray vectors gone, hot copies dropped', async () => {
    const before = { a: await counts(a), b: await counts(b) };
    expect(before.a).toEqual(await expected(a));
    expect(before.b).toEqual(await expected(b));
    expect(before.a).toMatchObject({ turns: 4, facts: 2 });
    expect(before.a.chunks).toBeGreaterThan(3);

    // Wipe the derived copies, and leave a vector SQL knows nothing of (a deletion the store missed).
    await wipe(KINDS, [a, b]);
    const [stray] = await deps().embedder.embed(['a turn deleted while the store was down'], { kind: 'document' });
    await collections().turns.store.upsert({
      collection: collections().turns.name,
      tenantId: a.id,
      points: [{ id: '999999999', vector: stray as Float32Array, payload: { session: 'gone', user: '', seq: 1, role: 'user', at: 0 } }],
    });
    expect(await counts(a)).toEqual({ turns: 1, chunks: 0, facts: 0 });
    expect(await findFact(a, 'peanut allergy')).toEqual([]);
    expect(await findChunk(a, 'hotel price per night')).toEqual([]);
    await redis.set(`${gw.keyPrefix}unrelated`, 'kept');
    expect(await hotKeys()).toHaveLength(4);

    const run = await reindex([], env);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^Reindex of every tenant done in \d+\.\d s$/m);
    expect(reported(run.stdout, 'redis')).toBe(4);
    expect(reported(run.stdout, 'turns')).toBe(8);
    expect(run.stdout).toMatch(/^ {2}turns +8 turns re-embedded: 6 vectors, 2 turns need none/m);
    expect(reported(run.stdout, 'chunks')).toBe(Number(await sqlCount('SELECT count(*)::int AS n FROM chunks', [])));
    expect(run.stdout).toMatch(/chunks of 2 ready documents re-embedded \(\d+ passage vectors\)/);
    expect(reported(run.stdout, 'facts')).toBe(3);
    // A progress line per part on stderr: where it started and where it ended.
    for (const line of [
      /^redis 4 keys · \d+\.\d s$/m,
      /^turns 0\/8 · 0%$/m,
      /^turns 8\/8 · 100% · \d+\.\d s$/m,
      /^chunks 0\/\d+ · 0%$/m,
      /^facts 3\/3 · 100% · /m,
    ]) {
      expect(run.stderr).toMatch(line);
    }

    expect(await counts(a)).toEqual(before.a);
    expect(await counts(b)).toEqual(before.b);
    expect((await findFact(a, 'peanut allergy'))[0]).toMatchObject({ text: 'Ada is allergic to peanuts.' });
    expect((await findChunk(a, 'hotel price per night'))[0]).toMatchObject({
      document_id: docs[a.id]?.document,
      via: 'vector',
      heading_path: ['Handbook', 'Expenses'],
    });
    const [turn] = await findTurn(a, 'alpacas on the farm');
    expect(turn?.payload).toMatchObject({ session: 'trip', seq: 1, role: 'user' });
    expect(await sqlCount('SELECT count(*)::int AS n FROM messages WHERE embedded_model IS NULL', [])).toBe(0);

    // Only the hot copies went; the next read copies the session from SQL again.
    expect(await hotKeys()).toEqual([]);
    expect(await redis.get(`${gw.keyPrefix}unrelated`)).toBe('kept');
    await readSession(a, 'trip');
    expect(await redis.lrange(`${gw.keyPrefix}st:{${a.id}:trip}`, 0, -1)).toHaveLength(6);
  }, 120_000);

  it('--tenant rebuilds one tenant and leaves the others as they are; --only picks the parts', async () => {
    await readSession(b, 'notes');
    // Tenant b loses everything; tenant a only its turn vectors (its chunks and facts must survive b's run).
    await wipe(KINDS, [b]);
    await wipe(['turns'], [a]);
    const want = { a: await expected(a), b: await expected(b) };
    const run = await reindex(['--tenant', b.id], env);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain(`Reindex of tenant ${b.id} done`);
    expect(reported(run.stdout, 'redis')).toBe(2);
    expect(reported(run.stdout, 'turns')).toBe(2);
    expect(reported(run.stdout, 'facts')).toBe(1);
    expect(await counts(b)).toEqual(want.b);
    expect(await counts(a)).toEqual({ ...want.a, turns: 0 });
    expect(await hotKeys(b)).toEqual([]);
    expect(await hotKeys(a)).toHaveLength(2);
    expect((await findChunk(b, 'where do I park my bike'))[0]).toMatchObject({ document_id: docs[b.id]?.document, heading_path: ['Handbook', 'Parking'] });
    expect((await findFact(b, 'seat on the train'))[0]).toMatchObject({ text: 'Ada prefers window seats on trains.' });

    const partial = await reindex(['--tenant', a.id, '--only', 'turns'], env);
    expect(partial.code, `${partial.stdout}\n${partial.stderr}`).toBe(0);
    expect(partial.stdout).not.toMatch(/^ {2}(redis|chunks|facts) /m);
    expect(reported(partial.stdout, 'turns')).toBe(6);
    expect(await counts(a)).toEqual(want.a);
    expect(await counts(b)).toEqual(want.b);
    expect(await hotKeys(a)).toHaveLength(2);
  }, 120_000);

  it('refuses bad options and unknown tenants (exit 2), reports a part that fails (exit 1) and skips what this deployment does not have', async () => {
    const [bogus, noTenant, help] = await Promise.all([
      reindex(['--only', 'turns,bogus'], env),
      reindex(['--tenant', 'ten_nobody'], env),
      reindex(['--help'], env),
    ]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('--only: unknown part "bogus"');
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toContain('no tenant with id "ten_nobody"');
    expect(help.code).toBe(0);
    for (const word of ['--only', '--tenant', 'redis', 'turns', 'chunks', 'facts']) expect(help.stdout).toContain(word);

    const deadRedis = await reindex(['--only', 'redis'], { ...env, REDIS_URL: 'redis://:secret@127.0.0.1:9' });
    expect(deadRedis.code).toBe(1);
    expect(deadRedis.stdout).toMatch(/^ {2}redis +FAILED: cannot reach Redis at redis:\/\/127\.0\.0\.1:9 \(/m);
    expect(deadRedis.stdout + deadRedis.stderr).not.toContain('secret');

    const { REDIS_URL: _, ...noRedis } = env;
    const skipped = await reindex(['--only', 'redis,turns'], { ...noRedis, VECTOR_STORE: 'memory' });
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/^ {2}redis +skipped: no Redis configured/m);
    expect(skipped.stdout).toMatch(/^ {2}turns +skipped: the vector store is in memory/m);

    const deadDb = await reindex(['--only', 'redis'], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:9/test' });
    expect(deadDb.code).toBe(1);
    expect(deadDb.stderr).toMatch(/cannot open the database|ECONNREFUSED/);
  }, 60_000);

  it('is listed by `context-gateway --help`', async () => {
    const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', tsx, cli, '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      child.stdout.on('data', (d: Buffer) => {
        s += d.toString();
      });
      child.on('error', reject);
      child.on('close', () => resolve(s));
    });
    expect(out).toMatch(/^ {2}reindex +rebuild the Redis hot copies and the vector collections from SQL$/m);
  }, 30_000);
});
