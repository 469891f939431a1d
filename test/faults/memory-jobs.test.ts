import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, type RecordedRequest, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';
import { startRelay } from '../helpers/relay.js';
import { startFakeQdrant } from '../helpers/vector-fake-qdrant.js';
import { deleteRedisKeys, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../helpers/env.js';

// Memory jobs under faults, with real processes: gateways (in this process, JOBS_PROCESS off) enqueue
// on BullMQ over the real Redis, reached through a relay that can be cut; workers are real
// `workers/main.ts` processes (node + tsx) killed with SIGKILL that embed turns, summarise and extract
// facts into a shared vector store; a scripted local model answers slowly.
// After each fault: every turn is in the transcript and embedded, the summaries cover every turn
// exactly once (versions 1..n, each from turn 1 to a later turn, the rest under the trigger), the
// fact extractor read every turn exactly once (one fact per user turn, no duplicates).

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const WORKER = fileURLToPath(new URL('../../workers/main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const SUMMARY = { triggerTokens: 300, keepRecentTokens: 60, maxTokens: 100, sweepIntervalMs: 500, model: 'm' };
const FACTS = { model: 'm', debounceMs: 100, sweepIntervalMs: 500 };
const JOBS = { attempts: 3, backoffMs: 50, lockMs: 1_500 };
// Turns a killed worker had claimed are embedded by another after 3 s (60 by default).
const EPISODIC = { enabled: true, sweepIntervalMs: 300, claimSeconds: 3 };
const MODEL_DELAY_MS = 400;

/** A model that summarises ("summary of turns a–b") and states one fact per user turn ("fact of turn N"). */
function scripted(req: RecordedRequest): { kind: 'text'; text: string; delayMs: number } {
  const format = req.body.response_format?.json_schema?.name;
  const prompt: string = req.body.messages.at(-1)?.content ?? '';
  if (format === 'facts') {
    const facts = [...prompt.matchAll(/^#(\d+) \[[\d-]+\] Ada: (.*)$/gm)].map((m) => ({ text: `Fact of ${m[2]}`, category: 'fact', date: null, turns: [Number(m[1])] }));
    return { kind: 'text', text: JSON.stringify({ facts }), delayMs: MODEL_DELAY_MS };
  }
  if (format === 'operations') {
    const n = prompt.split('\n\nNew facts:\n')[1]?.split('\n').length ?? 0;
    return { kind: 'text', text: JSON.stringify({ operations: Array.from({ length: n }, (_, fact) => ({ fact, action: 'add', id: null, text: null })) }), delayMs: MODEL_DELAY_MS };
  }
  if (String(req.body.messages[0]?.content).includes('running summary')) return { kind: 'text', text: `Summary written at ${Date.now()}.`, delayMs: MODEL_DELAY_MS };
  return { kind: 'text', text: 'Noted.', delayMs: 0 };
}

describe('memory jobs under faults', () => {
  let upstream: FakeOpenAi;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let qdrant: Awaited<ReturnType<typeof startFakeQdrant>>;
  let gw: TestGateway;
  let dir: string;
  let config: Record<string, unknown>;
  const schema = uniqueName('t');
  const keyPrefix = `${uniqueName('t')}:`;
  const workers = new Set<ChildProcess>();
  const report: Json[] = [];

  function startWorker(): ChildProcess {
    const child = spawn(process.execPath, ['--import', TSX, WORKER], {
      env: {
        ...process.env,
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: schema,
        REDIS_URL: relay.url,
        REDIS_KEY_PREFIX: keyPrefix,
        CONFIG_FILE: join(dir, 'config.json'),
        EMBEDDINGS_THREADS: '1',
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    return child;
  }
  const kill = (w: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (w.exitCode !== null) return resolve();
      w.once('exit', () => resolve());
      w.kill('SIGKILL');
    });

  const openGateway = () =>
    startGateway({ schema, keyPrefix, redis: relay.url, config: { ...config, jobs: { ...JOBS, process: false }, memory: { episodic: EPISODIC, summary: SUMMARY, facts: FACTS } } });

  beforeAll(async () => {
    upstream = await startFakeOpenAi(scripted);
    relay = await startRelay(new URL(TEST_REDIS_URL));
    dir = await mkdtemp(join(tmpdir(), 'faults-'));
    // A vector store every process shares (Qdrant's wire format, served locally), so the workers
    // embed turns and facts for the gateways; a store in one process's memory would keep them there.
    qdrant = await startFakeQdrant();
    config = { ...upstreamConfig([{ name: 'up', baseUrl: upstream.url, retries: 0 }]), embeddings: { threads: 1 }, vector: { kind: 'qdrant', url: qdrant.url } };
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, jobs: JOBS, memory: { episodic: EPISODIC, summary: SUMMARY, facts: FACTS } }));
    gw = await openGateway();
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...workers].map(kill));
    await gw?.close();
    // The schema and keys are named here (shared by the gateways of this file), so they are dropped here.
    const { dropSchema } = await import('../helpers/env.js');
    await dropSchema(schema);
    await deleteRedisKeys(keyPrefix);
    await relay?.close();
    await qdrant?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
    console.log(`memory fault results: ${JSON.stringify(report)}`);
  });

  /** `n` user/assistant turns of Ada, each user turn a distinct sentence. */
  const turns = (tag: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      role: i % 2 === 0 ? 'user' : 'assistant',
      name: i % 2 === 0 ? 'Ada' : 'Bot',
      content: i % 2 === 0 ? `${tag} note ${i}: the plumber comes on day ${i} and the tiles cost ${i * 10} euros.` : `Understood, noted for ${tag} ${i}.`,
    }));

  /** Waits until the session has converged, then checks every invariant; returns the seconds it took. */
  async function converged(key: string, tenantId: string, session: string, expectTurns: number, started: number): Promise<Json> {
    const sql = gw.gateway.deps.sql;
    const deadline = Date.now() + 40_000;
    for (;;) {
      const { rows } = await sql.query<Json>(
        `SELECT s.last_seq, s.facts_seq, s.summarized_seq, s.tail_tokens,
                (SELECT count(*)::int FROM messages m WHERE m.tenant_id = s.tenant_id AND m.session_id = s.id) AS stored,
                (SELECT count(*)::int FROM messages m WHERE m.tenant_id = s.tenant_id AND m.session_id = s.id AND m.embedded_model IS NULL) AS unembedded,
                (SELECT coalesce(sum(token_count), 0)::int FROM messages m WHERE m.tenant_id = s.tenant_id AND m.session_id = s.id AND m.seq > s.summarized_seq) AS tail
         FROM sessions s WHERE s.tenant_id = $1 AND s.id = $2`,
        [tenantId, session],
      );
      const s = rows[0];
      if (s && s.stored === expectTurns && s.unembedded === 0 && s.facts_seq === s.last_seq && s.tail < SUMMARY.triggerTokens) {
        const versions = (await gw.call('GET', `/v1/sessions/${session}/summaries`, { key })).body.data.reverse();
        // Every version covers turn 1 to a later turn than the one before, and the counter is exact.
        expect(versions.map((v: Json) => v.version)).toEqual(versions.map((_: Json, i: number) => i + 1));
        for (let i = 0; i < versions.length; i++) {
          expect(versions[i].from_seq).toBe(1);
          if (i > 0) expect(versions[i].to_seq).toBeGreaterThan(versions[i - 1].to_seq);
        }
        expect(versions.at(-1).to_seq).toBe(s.summarized_seq);
        expect(Number(s.tail_tokens)).toBe(s.tail);
        // One fact per user turn, each read once.
        const facts = await sql.query<{ text: string; n: number }>("SELECT text, count(*)::int AS n FROM memories WHERE tenant_id = $1 AND session_id = $2 GROUP BY text", [tenantId, session]);
        expect(facts.rows.length).toBe(expectTurns / 2);
        expect(facts.rows.every((r) => r.n === 1)).toBe(true);
        return { turns_stored: s.stored, summary_versions: versions.length, facts: facts.rows.length, seconds_to_converge: Number(((Date.now() - started) / 1000).toFixed(1)) };
      }
      if (Date.now() > deadline) throw new Error(`session ${session} did not converge: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('a worker killed with SIGKILL mid-job: another takes the job over, nothing lost or doubled', async () => {
    const t = await gw.tenant('kill');
    const first = startWorker();
    const calls = upstream.requests.length;
    const started = Date.now();
    expect((await gw.call('POST', '/v1/sessions/k1/messages', { key: t.key, body: { user: 'ada', messages: turns('k1', 40) } })).status).toBe(201);
    // Killed while the model is answering its first job.
    while (upstream.requests.length === calls) await new Promise((r) => setTimeout(r, 20));
    await kill(first);
    startWorker();
    const result = await converged(t.key, t.id, 'k1', 40, started);
    report.push({ fault: 'worker SIGKILL mid-job', turns_sent: 40, ...result, model_calls: upstream.requests.length - calls });
  }, 60_000);

  it('Redis restarted (connections cut, every key lost) during a burst of chat requests: every request answered, every turn kept', async () => {
    const t = await gw.tenant('redis');
    const started = Date.now();
    const calls = upstream.requests.length;
    const say = (i: number) =>
      gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', user: 'ada', session_id: 'r1', messages: [{ role: 'user', name: 'Ada', content: `r1 note ${i}: the painter asked for ${i} litres of white.` }] } });
    const burst: Array<Promise<{ status: number }>> = [];
    for (let i = 0; i < 30; i++) {
      burst.push(say(i));
      if (i === 10) {
        relay.cut();
        await deleteRedisKeys(keyPrefix);
      }
      if (i === 20) await relay.restore();
      await new Promise((r) => setTimeout(r, 30));
    }
    const statuses = (await Promise.all(burst)).map((r) => r.status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const result = await converged(t.key, t.id, 'r1', 60, started);
    report.push({ fault: 'Redis restarted during a chat burst', turns_sent: 60, requests_failed: 0, ...result, model_calls: upstream.requests.length - calls });
  }, 60_000);

  it('two workers racing for the same session: one summary per version, each fact once', async () => {
    const t = await gw.tenant('race');
    startWorker();
    const started = Date.now();
    const calls = upstream.requests.length;
    for (let i = 0; i < 4; i++) await gw.call('POST', '/v1/sessions/w1/messages', { key: t.key, body: { user: 'ada', messages: turns(`w1-${i}`, 20) } });
    const result = await converged(t.key, t.id, 'w1', 80, started);
    report.push({ fault: 'two workers on one session', turns_sent: 80, ...result, model_calls: upstream.requests.length - calls });
  }, 60_000);

  it('the gateway restarted while jobs are queued and no worker runs: the jobs wait and are done after', async () => {
    await Promise.all([...workers].map(kill));
    const t = await gw.tenant('restart');
    const started = Date.now();
    await gw.call('POST', '/v1/sessions/g1/messages', { key: t.key, body: { user: 'ada', messages: turns('g1', 40) } });
    const waiting = (await gw.admin('GET', '/admin/v1/jobs')).body.counts;
    expect(waiting.summarize.waiting + waiting.summarize.delayed + waiting.extract_facts.waiting + waiting.extract_facts.delayed).toBeGreaterThan(0);
    await gw.close();
    gw = await openGateway();
    startWorker();
    const result = await converged(t.key, t.id, 'g1', 40, started);
    report.push({ fault: 'gateway restarted with jobs queued', turns_sent: 40, ...result });
  }, 60_000);
});
