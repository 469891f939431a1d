import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Rolling session summaries through HTTP on real Postgres and Redis (BullMQ): a session whose
// unsummarised tail passes the trigger gets a summary job; the summary is extractive without a model
// and written by the configured model otherwise (a local fake upstream); /v1/context then sends the
// newest summary with exactly the turns after it; failed jobs show in GET /admin/v1/jobs.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const SUMMARY = { triggerTokens: 150, keepRecentTokens: 40, maxTokens: 120, sweepIntervalMs: 200 };
const FACTS = [
  'My sister Beatrix keeps 14 alpacas on her farm near Lyon.',
  'We agreed the kitchen budget is 40,000 euros, paid in two parts.',
  'The contractor, Mr. Okafor, starts on the 3rd of June.',
  'I still have to decide between oak and walnut for the counters.',
  'Our daughter Lena turns seven in August and wants a pottery party.',
  'The old fridge goes to the recycling centre on Saturday morning.',
];

/** A history of user/assistant turns with days and names, as an app would import it. */
function history(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    role: i % 2 === 0 ? 'user' : 'assistant',
    name: i % 2 === 0 ? 'Ada' : undefined,
    content: i % 2 === 0 ? `${FACTS[(i / 2) % FACTS.length]} That is what I wanted you to remember.` : 'Noted, I will keep that in mind for the renovation plans.',
    external_id: `D1:${i + 1}`,
    created_at: new Date(Date.UTC(2023, 4, 8, 9, i)).toISOString(),
  }));
}

async function summaries(gw: TestGateway, key: string, session: string, atLeast = 1): Promise<Json[]> {
  for (let i = 0; i < 200; i++) {
    const res = await gw.call('GET', `/v1/sessions/${session}/summaries`, { key });
    if (res.status === 200 && res.body.data.length >= atLeast) return res.body.data;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`session ${session} has no summary; jobs: ${JSON.stringify((await gw.admin("GET", "/admin/v1/jobs")).body)}`);
}

const tokensAfter = (turns: Json[], seq: number) => turns.filter((t) => t.seq > seq).reduce((s, t) => s + t.token_count, 0);

describe('session summaries: extractive, without a model', () => {
  let gw: TestGateway;
  let upstream: FakeOpenAi;
  let t: { id: string; key: string };
  beforeAll(async () => {
    upstream = await startFakeOpenAi();
    gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: upstream.url }]), embeddings: { threads: 1 }, memory: { summary: SUMMARY } } });
    t = await gw.tenant('sum');
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('summarises a session once its tail passes the trigger, keeping the newest turns out', async () => {
    const imported = await gw.call('POST', '/v1/sessions/kitchen/messages', { key: t.key, body: { messages: history(12) } });
    expect(imported.status).toBe(201);
    const [v1] = await summaries(gw, t.key, 'kitchen');
    expect(v1).toMatchObject({ object: 'session.summary', version: 1, from_seq: 1, method: 'extractive', model: null });
    const turns = (await gw.call('GET', '/v1/sessions/kitchen/messages?limit=100', { key: t.key })).body.data;
    // Everything but the newest ≤ 40 tokens is folded; the next older turn would not have fitted.
    expect(tokensAfter(turns, v1.to_seq)).toBeLessThanOrEqual(SUMMARY.keepRecentTokens);
    expect(tokensAfter(turns, v1.to_seq - 1)).toBeGreaterThan(SUMMARY.keepRecentTokens);
    expect(v1.tokens).toBeLessThanOrEqual(SUMMARY.maxTokens);
    // Each line is a sentence of a folded turn, under its day and speaker.
    const lines = v1.text.split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) {
      const m = /^\[(\d{4}-\d{2}-\d{2})\] (Ada|assistant): (.+)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(turns.some((x: Json) => x.seq <= v1.to_seq && x.content.includes((m as RegExpExecArray)[3]))).toBe(true);
    }
    // Names and numbers are favoured: some fact with a number made it in.
    expect(v1.text).toMatch(/\d/);
  });

  it('sends the newest summary with exactly the turns after it', async () => {
    const [v] = await summaries(gw, t.key, 'kitchen');
    const res = await gw.call('POST', '/v1/context', { key: t.key, body: { model: 'm', session_id: 'kitchen', messages: [{ role: 'user', content: 'What did we agree on?' }] } });
    expect(res.status).toBe(200);
    const summary = res.body.items.find((i: Json) => i.kind === 'summary');
    expect(summary).toMatchObject({ section: 'summary', version: v.version, from_seq: 1, to_seq: v.to_seq, id: `summary:kitchen:${v.version}` });
    expect(res.body.usage.context.summary).toBeGreaterThan(0);
    const replayed = res.body.items.filter((i: Json) => i.kind === 'turn').map((i: Json) => i.seq);
    expect(replayed).toEqual(Array.from({ length: 12 - v.to_seq }, (_, i) => v.to_seq + 1 + i));
    expect(res.body.messages.some((m: Json) => m.role === 'system' && m.content.includes(v.text))).toBe(true);
  });

  it('folds new turns into a second version that covers the first one', async () => {
    await gw.call('POST', '/v1/sessions/kitchen/messages', { key: t.key, body: { messages: history(24).slice(12) } });
    const [v2, v1] = await summaries(gw, t.key, 'kitchen', 2);
    expect(v2).toMatchObject({ version: 2, from_seq: 1, method: 'extractive' });
    expect(v2.to_seq).toBeGreaterThan(v1.to_seq);
    const s = await gw.call('GET', '/v1/sessions/kitchen', { key: t.key });
    expect(s.body.last_seq).toBe(24);
  });

  it('lists jobs by kind and state for the admin, and refuses others', async () => {
    const jobs = await gw.admin('GET', '/admin/v1/jobs');
    expect(jobs.status).toBe(200);
    expect(jobs.body).toMatchObject({ object: 'jobs', queue: 'bullmq', failed: [] });
    expect(jobs.body.counts.summarize.completed).toBeGreaterThanOrEqual(1);
    expect((await gw.call('GET', '/admin/v1/jobs', { key: t.key })).status).toBe(403);
  });

  it('answers 404 for another tenant and forgets the summaries with the session', async () => {
    const other = await gw.tenant('other');
    expect((await gw.call('GET', '/v1/sessions/kitchen/summaries', { key: other.key })).status).toBe(404);
    expect((await gw.call('DELETE', '/v1/sessions/kitchen', { key: t.key })).status).toBe(200);
    const { rows } = await gw.gateway.deps.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM session_summaries WHERE session_id = 'kitchen'");
    expect(rows[0]?.n).toBe(0);
  });
});

describe('session summaries: written by a model', () => {
  let gw: TestGateway;
  let upstream: FakeOpenAi;
  let t: { id: string; key: string };
  let failing = false;
  beforeAll(async () => {
    let n = 0;
    upstream = await startFakeOpenAi(() => (failing ? { kind: 'error', status: 500, message: 'model overloaded' } : { kind: 'text', text: `Ada's kitchen: budget 40,000 euros; summary ${++n}.` }));
    gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: upstream.url, retries: 0 }]),
        memory: { summary: { ...SUMMARY, model: 'm' } },
        jobs: { attempts: 2, backoffMs: 20 },
      },
    });
    t = await gw.tenant('llm');
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('sends the folded turns, then the previous summary with the new ones, and stores the answer', async () => {
    await gw.call('POST', '/v1/sessions/s1/messages', { key: t.key, body: { messages: history(12) } });
    const [v1] = await summaries(gw, t.key, 's1');
    expect(v1).toMatchObject({ version: 1, method: 'llm', model: 'm', text: "Ada's kitchen: budget 40,000 euros; summary 1." });
    const first = upstream.requests[0]?.body;
    expect(first.messages[0].role).toBe('system');
    expect(first.messages[0].content).toContain('absolute dates');
    expect(first.messages[1].content).not.toContain('Summary so far');
    expect(first.messages[1].content).toContain(`[2023-05-08] Ada: ${FACTS[0]}`);
    expect(first.max_tokens).toBe(SUMMARY.maxTokens);

    await gw.call('POST', '/v1/sessions/s1/messages', { key: t.key, body: { messages: history(24).slice(12) } });
    const [v2] = await summaries(gw, t.key, 's1', 2);
    expect(v2).toMatchObject({ version: 2, method: 'llm', text: "Ada's kitchen: budget 40,000 euros; summary 2." });
    const second = upstream.requests[1]?.body.messages[1].content as string;
    expect(second.startsWith(`Summary so far:\n${v1.text}\n\nNew turns:\n`)).toBe(true);
    // Only the turns after the first summary are sent again.
    expect(second.split('\n').filter((l) => l.startsWith('[2023-05-08]')).length).toBe(v2.to_seq - v1.to_seq);
  });

  it('keeps a job whose model keeps failing as failed, with its error, and folds nothing', async () => {
    failing = true;
    await gw.call('POST', '/v1/sessions/s2/messages', { key: t.key, body: { messages: history(12) } });
    let failed: Json[] = [];
    for (let i = 0; i < 100 && failed.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      failed = (await gw.admin('GET', '/admin/v1/jobs')).body.failed;
    }
    expect(failed[0]).toMatchObject({ kind: 'summarize', attempts: 2 });
    expect(failed[0].key).toContain('s2');
    expect(failed[0].error).toMatch(/overloaded|500|upstream/i);
    expect((await gw.call('GET', '/v1/sessions/s2/summaries', { key: t.key })).body.data).toEqual([]);
    failing = false;
  });
});
