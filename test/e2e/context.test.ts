import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/providers/types.js';
import { getTokenizer, REPLY_PRIMING_TOKENS } from '../../src/tokens/tokenizer.js';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// The context engine end to end: real Postgres (and PGlite + pgvector), real Redis, the real
// use-lite embedder in one worker thread, real HTTP, and the official openai SDK.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;
type Tenant = Awaited<ReturnType<TestGateway['tenant']>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tokenizer = getTokenizer('o200k_base');

/** Episodic memory on, one embedding thread (the machine is shared), a short sweep. */
function episodicConfig(up: FakeOpenAi, sweepIntervalMs = 30_000) {
  const config = upstreamConfig([{ name: 'up', baseUrl: up.url }]);
  return {
    ...config,
    models: {
      ...config.models,
      // A tiny window: 600 − 100 reserved − 64 margin leaves 436 tokens for the prompt.
      small: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }], contextWindow: 600, reservedCompletionTokens: 100 },
    },
    embeddings: { threads: 1 },
    memory: { episodic: { enabled: true, sweepIntervalMs } },
  };
}
const SMALL_PROMPT_BUDGET = 600 - 100 - 64;

const FILLER_USER = [
  'I spent the morning answering emails at my desk.',
  'The bus was late again, so I walked part of the way.',
  'Made a big pot of tomato soup for the week.',
  'Watched a documentary about deep sea creatures tonight.',
  'Cleaned the kitchen and sorted out the recycling.',
  'Went for a slow jog around the park before lunch.',
  'Our team meeting ran long but we agreed on the roadmap.',
  'I reorganised the bookshelf by colour, it looks nice.',
  'Picked up groceries: rice, apples and coffee beans.',
  'Tried a new podcast about urban planning on the way home.',
];
const FILLER_ASSISTANT = [
  'That sounds like a productive stretch.',
  'Nice, small routines like that add up.',
  'Good to hear. How did it feel afterwards?',
  'That is a sensible way to spend the time.',
  'Glad it went well overall.',
];

/** Facts said early in the long session, by seq (all user turns). */
const FACTS: Record<number, string> = {
  3: 'My sister Beatrix keeps three alpacas on her farm near Lisbon.',
  25: 'I finally booked violin lessons with a teacher called Mr Okonkwo, every Thursday evening.',
  61: 'My passport expires in November, so I must renew it before the trip to Kyoto.',
  91: 'The wifi password at the lake cabin is sunflower-42.',
};

/**
 * A transcript of `n` turns, 20 per day, a day every 3 days from Mon 8 May 2023, with external ids
 * `D<day>:<turn>`. Seq s is said on day floor((s-1)/20).
 */
function longTranscript(n: number, prefix = 'D', facts: Record<number, string> = FACTS) {
  return Array.from({ length: n }, (_, i) => {
    const seq = i + 1;
    const day = Math.floor(i / 20);
    const role = i % 2 === 0 ? 'user' : 'assistant';
    const content = facts[seq] ?? (role === 'user' ? FILLER_USER[(i / 2) % FILLER_USER.length] : FILLER_ASSISTANT[((i - 1) / 2) % FILLER_ASSISTANT.length]);
    const created_at = new Date(Date.UTC(2023, 4, 8 + 3 * day, 9, (i % 20) * 2)).toISOString();
    return { role, content: content as string, external_id: `${prefix}${day + 1}:${(i % 20) + 1}`, created_at };
  });
}

/** Polls GET /v1/sessions/:id until every turn of the session is embedded. */
async function settled(gw: TestGateway, key: string, session: string, timeoutMs = 20_000): Promise<Json> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await gw.call('GET', `/v1/sessions/${encodeURIComponent(session)}`, { key });
    if (res.status === 200 && res.body.memory.turns_pending_embedding === 0) return res.body;
    if (Date.now() > until) throw new Error(`session ${session} still has turns to embed: ${JSON.stringify(res.body)}`);
    await sleep(100);
  }
}

/** Vectors the gateway's store holds for one session of a tenant. */
function vectorCount(gw: TestGateway, tenantId: string, session: string): Promise<number> {
  const { vectors, indexer } = gw.gateway.deps;
  if (!vectors || !indexer) throw new Error('episodic memory is off in this gateway');
  return vectors.count({ collection: indexer.collection.name, tenantId, filter: { session } });
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'user', content }], ...extra });

/** Everything a /v1/context answer must satisfy, whatever was asked. */
function expectConsistent(body: Json, budget: number) {
  const sections = body.usage.context;
  expect(Object.keys(sections).sort()).toEqual(['documents', 'episodic', 'facts', 'messages', 'older', 'recent', 'summary', 'system']);
  const sum = Object.values(sections as Record<string, number>).reduce((s, n) => s + n, 0);
  expect(sum).toBe(body.usage.prompt_tokens);
  expect(body.usage.prompt_tokens).toBeLessThanOrEqual(budget);
  expect(body.usage.budget).toBe(budget);
  // The reported total is what the returned messages cost, counted independently.
  const counted = (body.messages as ChatMessage[]).reduce((s, m) => s + tokenizer.countMessage(m), REPLY_PRIMING_TOKENS);
  expect(counted).toBe(body.usage.prompt_tokens);
  // Replayed turns' tokens add up to their sections.
  for (const section of ['recent', 'older']) {
    const items = (body.items as Json[]).filter((i) => i.section === section);
    expect(items.reduce((s, i) => s + i.tokens, 0)).toBe(sections[section]);
  }
}

/** The day heading under which `text` appears in the retrieved-memories system message. */
function headingOf(messages: ChatMessage[], text: string): string | undefined {
  const memory = messages.find((m) => m.role === 'system' && typeof m.content === 'string' && m.content.includes(text));
  if (!memory) return undefined;
  const lines = (memory.content as string).split('\n');
  const at = lines.findIndex((l) => l.includes(text));
  return lines
    .slice(0, at)
    .reverse()
    .find((l) => /^\[.*\]$/.test(l));
}

describe('context engine on Postgres (in-memory vector store)', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;
  let t: Tenant;
  const long = longTranscript(120);

  beforeAll(async () => {
    up = await startFakeOpenAi((req) => {
      const last = String(req.body.messages.at(-1)?.content ?? '');
      return { kind: 'text', text: last.includes('violin') ? 'Let me check my notes.' : 'Okay.' };
    });
    gw = await startGateway({ config: episodicConfig(up) });
    t = await gw.tenant();
    const imp = await gw.call('POST', '/v1/sessions/long/messages', { key: t.key, body: { user: 'ada', messages: long } });
    expect(imp.status).toBe(201);
    expect(imp.body.imported).toBe(120);
    await settled(gw, t.key, 'long');
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('reports the session embedded, with every turn in the vector store', async () => {
    const s = await gw.call('GET', '/v1/sessions/long', { key: t.key });
    expect(s.body).toMatchObject({ object: 'session', id: 'long', user_id: 'ada', last_seq: 120, memory: { episodic: true, turns_pending_embedding: 0 } });
    expect(await vectorCount(gw, t.id, 'long')).toBe(120);
  });

  it('retrieves an early fact of a long session within a small budget, under its day heading', async () => {
    const res = await gw.call('POST', '/v1/context', {
      key: t.key,
      body: ask('How many alpacas does my sister Beatrix keep?', { session_id: 'long', context: { budget: 300 } }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'context', model: 'm', session_id: 'long', retrieval: { ran: true } });
    expectConsistent(res.body, 300);
    const fact = res.body.items.find((i: Json) => i.external_id === 'D1:3');
    expect(fact).toMatchObject({ kind: 'turn', id: 'turn:long:3', section: 'episodic', session_id: 'long', seq: 3, created_at: '2023-05-08T09:04:00.000Z' });
    expect(fact.via).toBe('both'); // found by full text and by its vector
    expect(fact.score).toBeGreaterThan(0);
    expect(res.body.usage.context.episodic).toBeGreaterThan(0);
    // Every retrieved item says how it was found; its lines fit in the section's tokens.
    const episodic = res.body.items.filter((i: Json) => i.section === 'episodic');
    for (const i of episodic) expect(['lexical', 'vector', 'both', 'neighbour']).toContain(i.via);
    expect(episodic.reduce((s: number, i: Json) => s + i.tokens, 0)).toBeLessThan(res.body.usage.context.episodic);
    // Rendered as "User: …" under the day it was said.
    expect(headingOf(res.body.messages, `User: ${FACTS[3]}`)).toBe('[Mon 8 May 2023]');
    // Recent history is the newest turns, and the request's message comes last.
    const recent = res.body.items.filter((i: Json) => i.section === 'recent');
    expect(recent.length).toBeGreaterThanOrEqual(2);
    expect(recent.at(-1).seq).toBe(120);
    expect(res.body.messages.at(-1)).toEqual({ role: 'user', content: 'How many alpacas does my sister Beatrix keep?' });
    // Nothing was stored.
    expect((await gw.call('GET', '/v1/sessions/long', { key: t.key })).body.last_seq).toBe(120);
  });

  it('replays a short session whole without retrieval, and skips retrieval when the request says so', async () => {
    const short = longTranscript(6, 'S');
    expect((await gw.call('POST', '/v1/sessions/short/messages', { key: t.key, body: { messages: short } })).status).toBe(201);
    const res = await gw.call('POST', '/v1/context', { key: t.key, body: ask('What did I cook?', { session_id: 'short', context: { budget: 300 } }) });
    expect(res.status).toBe(200);
    expect(res.body.retrieval).toMatchObject({ ran: false, reason: 'the whole session fits in the budget', documents: { ran: false, reason: 'no collection with documents' } });
    expectConsistent(res.body, 300);
    expect(res.body.items.map((i: Json) => i.external_id)).toEqual(short.map((m) => m.external_id));
    expect(res.body.items.every((i: Json) => i.section === 'recent' || i.section === 'older')).toBe(true);
    expect(res.body.messages.map((m: ChatMessage) => m.content)).toEqual([...short.map((m) => m.content), 'What did I cook?']);
    expect(res.body.usage.context.episodic).toBe(0);

    const off = await gw.call('POST', '/v1/context', {
      key: t.key,
      body: ask('How many alpacas does my sister Beatrix keep?', { session_id: 'long', context: { budget: 300, episodic: false } }),
    });
    expect(off.body.retrieval).toMatchObject({ ran: false, reason: 'the request turned episodic retrieval off' });
    expect(off.body.items.some((i: Json) => i.section === 'episodic')).toBe(false);
    expect(JSON.stringify(off.body.messages.slice(0, -1))).not.toContain('Beatrix');
  });

  it('chat with session_id sends the retrieved turn upstream, reports it, and indexes the new turns', async () => {
    const question = 'Who teaches my violin lessons? Also remind me to water the bonsai.';
    const { data, response } = await t.client.chat.completions.create(ask(question, { session_id: 'long', context: { budget: 400 } }) as never).withResponse();
    expect(data.choices[0]?.message.content).toBe('Let me check my notes.');
    // The upstream saw the fact in a system message, and the question last.
    const sent = up.requests.at(-1)?.body.messages as ChatMessage[];
    expect(headingOf(sent, `User: ${FACTS[25]}`)).toBe('[Thu 11 May 2023]');
    expect(sent.at(-1)).toEqual({ role: 'user', content: question });
    expect(sent.reduce((s, m) => s + tokenizer.countMessage(m), REPLY_PRIMING_TOKENS)).toBeLessThanOrEqual(400);
    // Headers: provenance ids of the retrieved items, tokens per section, history turns.
    const provenance = (response.headers.get('x-context-provenance') ?? '').split(',').map(decodeURIComponent);
    expect(provenance).toContain('turn:long:25');
    const tokens = Object.fromEntries(
      (response.headers.get('x-context-tokens') ?? '')
        .split(', ')
        .map((kv) => kv.split('='))
        .map(([k, v]) => [k, Number(v)]),
    );
    expect(tokens.budget).toBe(400);
    expect(tokens.total).toBeLessThanOrEqual(400);
    expect(tokens.episodic).toBeGreaterThan(0);
    expect(Number(response.headers.get('x-session-history-turns'))).toBeGreaterThanOrEqual(2);
    // The JSON answer carries usage.context and the included items.
    const body = data as Json;
    expect(body.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5, context: { budget: 400, episodic: tokens.episodic, recent: tokens.recent } });
    expect(body.usage.context.total).toBeUndefined();
    expect(body.context.items.find((i: Json) => i.id === 'turn:long:25')).toMatchObject({ section: 'episodic', external_id: 'D2:5' });
    expect(body.context.items.filter((i: Json) => i.section === 'episodic').map((i: Json) => i.id)).toEqual(
      provenance.filter((id) => body.context.items.some((i: Json) => i.id === id && i.section === 'episodic')),
    );
    // Replayed history is summarised as a range, ending at the newest stored turn.
    expect(body.context.items.some((i: Json) => i.section === 'recent' || i.section === 'older')).toBe(false);
    expect(body.context.history).toMatchObject({ last_seq: 120 });
    expect(body.context.history.turns).toBe(Number(response.headers.get('x-session-history-turns')));

    // The question and the answer are stored and embedded off the request path.
    const s = await settled(gw, t.key, 'long');
    expect(s.last_seq).toBe(122);
    expect(await vectorCount(gw, t.id, 'long')).toBe(122);
    // A later user-scope search finds the new turn by meaning and by text.
    const later = await gw.call('POST', '/v1/context', {
      key: t.key,
      body: ask('When should I water the bonsai?', { user: 'ada', context: { scope: 'user', budget: 300 } }),
    });
    expect(later.status).toBe(200);
    expect(later.body.retrieval.ran).toBe(true);
    expect(later.body.items.find((i: Json) => i.id === 'turn:long:121')).toMatchObject({ section: 'episodic', via: 'both', session_id: 'long' });
  });

  it('never exceeds a small model window, and refuses messages that alone do not fit', async () => {
    const res = await gw.call('POST', '/v1/context', {
      key: t.key,
      body: { ...ask('Where is the trip I need a passport for?', { session_id: 'long', context: { budget: 5000 } }), model: 'small' },
    });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe('small');
    expectConsistent(res.body, SMALL_PROMPT_BUDGET);
    expect(res.body.items.find((i: Json) => i.seq === 61)).toMatchObject({ section: 'episodic' });

    // Through chat: what the upstream receives fits the window with the reserved completion.
    const { response } = await t.client.chat.completions
      .create({ model: 'small', messages: [{ role: 'user', content: 'What is the wifi password at the cabin?' }], session_id: 'long' } as never)
      .withResponse();
    const sent = up.requests.at(-1)?.body.messages as ChatMessage[];
    const cost = sent.reduce((s, m) => s + tokenizer.countMessage(m), REPLY_PRIMING_TOKENS);
    expect(cost).toBeLessThanOrEqual(SMALL_PROMPT_BUDGET);
    expect(cost).toBeGreaterThan(SMALL_PROMPT_BUDGET - 60); // the window is used, not wasted
    expect(response.headers.get('x-context-tokens')).toContain(`total=${cost}, budget=${SMALL_PROMPT_BUDGET}`);
    expect(JSON.stringify(sent)).toContain('sunflower-42');

    // max_tokens is reserved out of the window too: 600 − 300 − 64.
    await t.client.chat.completions.create({
      model: 'small',
      max_tokens: 300,
      messages: [{ role: 'user', content: 'And the passport?' }],
      session_id: 'long',
    } as never);
    const sent2 = up.requests.at(-1)?.body.messages as ChatMessage[];
    expect(sent2.reduce((s, m) => s + tokenizer.countMessage(m), REPLY_PRIMING_TOKENS)).toBeLessThanOrEqual(600 - 300 - 64);

    const huge = 'alpaca farm near Lisbon '.repeat(150);
    const err = await t.client.chat.completions
      .create({ model: 'small', messages: [{ role: 'user', content: huge }], session_id: 'long' } as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' });
    const raw = await gw.call('POST', '/v1/context', { key: t.key, body: { model: 'small', session_id: 'long', messages: [{ role: 'user', content: huge }] } });
    expect(raw.status).toBe(400);
    expect(raw.body).toEqual({
      error: { message: expect.stringContaining('600-token window'), type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' },
    });
    // The refused request stored nothing.
    const turns = await gw.call('GET', '/v1/sessions/long/messages?after=120&limit=100', { key: t.key });
    expect(turns.body.data.some((m: Json) => m.content === huge)).toBe(false);
  });

  it('rejects bad context options with a 400 that names the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ budget: 0 }, 'context.budget'],
      [{ budget: '300' }, 'context.budget'],
      [{ budget: 12.5 }, 'context.budget'],
      [{ scope: 'tenant' }, 'context.scope'],
      [{ shares: { recent: 2 } }, 'context.shares.recent'],
      [{ shares: { gossip: 0.5 } }, 'context.shares'],
      [{ budgte: 300 }, 'context'],
    ];
    for (const [context, param] of cases) {
      for (const path of ['/v1/context', '/v1/chat/completions']) {
        const res = await gw.call('POST', path, { key: t.key, body: ask('hi', { session_id: 'long', context }) });
        expect(res.status, `${path} ${JSON.stringify(context)}`).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param });
      }
    }
    // A budget below the request's own messages cannot be met: said, not silently exceeded.
    for (const path of ['/v1/context', '/v1/chat/completions']) {
      const tiny = await gw.call('POST', path, { key: t.key, body: ask('What did I say about the ferry to the island?', { session_id: 'long', context: { budget: 5 } }) });
      expect(tiny.status).toBe(400);
      expect(tiny.body.error).toMatchObject({ type: 'invalid_request_error', code: 'context_budget_too_small', param: 'context.budget' });
    }
    const unknown = await gw.call('POST', '/v1/context', { key: t.key, body: ask('hi', { context: { budgte: 300 } }) });
    expect(unknown.body.error.message).toContain('budgte');

    const noUser = await gw.call('POST', '/v1/context', { key: t.key, body: ask('hi', { session_id: 'long', context: { scope: 'user' } }) });
    expect(noUser.status).toBe(400);
    expect(noUser.body.error).toMatchObject({ param: 'context.scope', type: 'invalid_request_error' });
    const viaSdk = await t.client.chat.completions.create(ask('hi', { context: { scope: 'user' } }) as never).catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(OpenAI.BadRequestError);
    expect(viaSdk).toMatchObject({ status: 400, param: 'context.scope' });
    expect(up.requests.at(-1)?.body.messages.at(-1).content).not.toBe('hi'); // nothing went upstream
  });

  it("user scope reads the user's other sessions only with an unrestricted or memory:user key", async () => {
    await gw.call('POST', '/v1/sessions/ada-new/messages', { key: t.key, body: { user: 'ada', messages: longTranscript(4, 'N', {}) } });
    const bob = longTranscript(30, 'B', { 5: 'My cousin keeps four alpacas in Wales, and my sister Beatrix visits them.' });
    await gw.call('POST', '/v1/sessions/bob-1/messages', { key: t.key, body: { user: 'bob', messages: bob } });
    await settled(gw, t.key, 'bob-1');
    await settled(gw, t.key, 'ada-new');

    const chatOnly = await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, scopes: ['route:chat', 'route:context'] });
    const memoryUser = await gw.admin('POST', '/admin/v1/keys', { tenant_id: t.id, scopes: ['route:chat', 'route:context', 'memory:user'] });
    const body = ask('How many alpacas does my sister Beatrix keep?', { session_id: 'ada-new', user: 'ada', context: { scope: 'user', budget: 300 } });

    const denied = await gw.call('POST', '/v1/context', { key: chatOnly.body.key, body });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('scope_not_allowed');
    const deniedChat = await gw.call('POST', '/v1/chat/completions', { key: chatOnly.body.key, body });
    expect(deniedChat.status).toBe(403);
    // The same key may still use its own session.
    const own = await gw.call('POST', '/v1/context', { key: chatOnly.body.key, body: { ...body, context: { budget: 300 } } });
    expect(own.status).toBe(200);
    expect(own.body.items.every((i: Json) => i.session_id === 'ada-new')).toBe(true);

    const allowed = await gw.call('POST', '/v1/context', { key: memoryUser.body.key, body });
    expect(allowed.status).toBe(200);
    expect(allowed.body.retrieval.ran).toBe(true);
    expect(allowed.body.items.find((i: Json) => i.external_id === 'D1:3')).toMatchObject({ section: 'episodic', session_id: 'long', id: 'turn:long:3' });
    expect(allowed.body.items.some((i: Json) => i.session_id === 'bob-1')).toBe(false);
    expect(JSON.stringify(allowed.body.messages)).not.toContain('Wales');

    // Bob's scope finds Bob's turn, never Ada's.
    const asBob = await gw.call('POST', '/v1/context', { key: memoryUser.body.key, body: { ...body, session_id: undefined, user: 'bob' } });
    expect(asBob.body.items.find((i: Json) => i.seq === 5)).toMatchObject({ session_id: 'bob-1', section: 'episodic' });
    expect(asBob.body.items.every((i: Json) => i.session_id === 'bob-1')).toBe(true);
  });

  it("never returns another tenant's turns, for the same session id or the same user id", async () => {
    const other = await gw.tenant('other');
    const mine = longTranscript(30, 'X', {});
    await gw.call('POST', '/v1/sessions/long/messages', { key: other.key, body: { user: 'ada', messages: mine } });
    await settled(gw, other.key, 'long');
    for (const extra of [
      { session_id: 'long', context: { budget: 150 } },
      { user: 'ada', context: { scope: 'user', budget: 150 } },
    ]) {
      const res = await gw.call('POST', '/v1/context', { key: other.key, body: ask('How many alpacas does my sister Beatrix keep?', extra) });
      expect(res.status).toBe(200);
      expect(res.body.retrieval.ran).toBe(true);
      expect(res.body.items.length).toBeGreaterThan(0);
      expect(res.body.items.every((i: Json) => /^X\d+:\d+$/.test(i.external_id))).toBe(true);
      expect(JSON.stringify(res.body)).not.toMatch(/Beatrix keeps|Okonkwo|sunflower/);
    }
    expect(await vectorCount(gw, other.id, 'long')).toBe(30);
    // Tenant A's own session is unchanged by B's import.
    expect((await gw.call('GET', '/v1/sessions/long', { key: t.key })).body.user_id).toBe('ada');
  });

  it('DELETE /v1/sessions/:id removes the vectors of the session, and only of that session', async () => {
    await gw.call('POST', '/v1/sessions/doomed/messages', {
      key: t.key,
      body: { user: 'carol', messages: longTranscript(10, 'Z', { 3: 'The spare key is hidden under the blue flowerpot.' }) },
    });
    await settled(gw, t.key, 'doomed');
    expect(await vectorCount(gw, t.id, 'doomed')).toBe(10);
    const q = ask('Where is the spare key hidden?', { user: 'carol', context: { scope: 'user', budget: 300 } });
    const before = await gw.call('POST', '/v1/context', { key: t.key, body: q });
    expect(before.body.items.find((i: Json) => i.id === 'turn:doomed:3')).toMatchObject({ section: 'episodic' });
    const longBefore = await vectorCount(gw, t.id, 'long');

    expect((await gw.call('DELETE', '/v1/sessions/doomed', { key: t.key })).body.deleted).toBe(true);
    expect(await vectorCount(gw, t.id, 'doomed')).toBe(0);
    expect(await vectorCount(gw, t.id, 'long')).toBe(longBefore);
    expect((await gw.call('GET', '/v1/sessions/doomed', { key: t.key })).status).toBe(404);
    const after = await gw.call('POST', '/v1/context', { key: t.key, body: q });
    expect(after.body.items).toEqual([]);
    expect(JSON.stringify(after.body.messages)).not.toContain('flowerpot');

    // The id can be used again; the store then holds the new turns only.
    await gw.call('POST', '/v1/sessions/doomed/messages', { key: t.key, body: { user: 'carol', messages: longTranscript(4, 'Y', {}) } });
    await settled(gw, t.key, 'doomed');
    expect(await vectorCount(gw, t.id, 'doomed')).toBe(4);
  });
});

describe('context engine on PGlite (pgvector)', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;
  let t: Tenant;

  beforeAll(async () => {
    up = await startFakeOpenAi(() => ({ kind: 'text', text: 'Okay.' }));
    gw = await startGateway({ sql: 'pglite', config: episodicConfig(up) });
    t = await gw.tenant();
    await gw.call('POST', '/v1/sessions/long/messages', { key: t.key, body: { user: 'ada', messages: longTranscript(120) } });
    await settled(gw, t.key, 'long');
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('keeps the vectors in pgvector and retrieves an early fact within the budget', async () => {
    expect(gw.gateway.deps.vectors?.kind).toBe('pgvector');
    expect(await vectorCount(gw, t.id, 'long')).toBe(120);
    const res = await gw.call('POST', '/v1/context', {
      key: t.key,
      body: ask('How many alpacas does my sister Beatrix keep?', { session_id: 'long', context: { budget: 300 } }),
    });
    expect(res.status).toBe(200);
    expectConsistent(res.body, 300);
    expect(res.body.items.find((i: Json) => i.external_id === 'D1:3')).toMatchObject({ section: 'episodic', via: 'both', seq: 3 });
    expect(headingOf(res.body.messages, `User: ${FACTS[3]}`)).toBe('[Mon 8 May 2023]');
  });

  it('sends the retrieved turn upstream on chat and embeds the new turns', async () => {
    const { response } = await t.client.chat.completions
      .create(ask('Which city is the trip I need to renew my passport for?', { session_id: 'long', context: { budget: 300 } }) as never)
      .withResponse();
    expect(JSON.stringify(up.requests.at(-1)?.body.messages)).toContain('Kyoto');
    expect((response.headers.get('x-context-provenance') ?? '').split(',').map(decodeURIComponent)).toContain('turn:long:61');
    await settled(gw, t.key, 'long');
    expect(await vectorCount(gw, t.id, 'long')).toBe(122);
  });

  it('deletes the vectors with the session', async () => {
    expect((await gw.call('DELETE', '/v1/sessions/long', { key: t.key })).status).toBe(200);
    expect(await vectorCount(gw, t.id, 'long')).toBe(0);
  });
});

describe('the sweep embeds turns another instance wrote', () => {
  let up: FakeOpenAi;
  let writer: TestGateway;
  let indexer: TestGateway;

  beforeAll(async () => {
    up = await startFakeOpenAi();
    // The writer has episodic memory off: it stores turns but never embeds or wakes an indexer.
    writer = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url }]) });
    indexer = await startGateway({ schema: writer.schema, keyPrefix: writer.keyPrefix, config: episodicConfig(up, 200) });
  });
  afterAll(async () => {
    await indexer?.close();
    await writer?.close();
    await up?.close();
  });

  it('finds and embeds them within a few sweep intervals', async () => {
    const t = await writer.tenant();
    await sleep(300); // the indexer's start-up run is over; only the sweep is left to find new turns
    const turns = longTranscript(30, 'W', { 7: 'The harbour ferry to the island leaves at dawn on Sundays.' });
    expect((await writer.call('POST', '/v1/sessions/swept/messages', { key: t.key, body: { user: 'dan', messages: turns } })).status).toBe(201);
    const onWriter = await writer.call('GET', '/v1/sessions/swept', { key: t.key });
    expect(onWriter.body.memory).toEqual({ episodic: false, turns_pending_embedding: null });
    const first = await indexer.call('GET', '/v1/sessions/swept', { key: t.key });
    expect(first.body.memory.turns_pending_embedding).toBeGreaterThan(0);

    await settled(indexer, t.key, 'swept', 15_000);
    expect(await vectorCount(indexer, t.id, 'swept')).toBe(30);
    const res = await indexer.call('POST', '/v1/context', {
      key: t.key,
      body: ask('When does the ferry to the island leave?', { session_id: 'swept', context: { budget: 250 } }),
    });
    expect(res.status).toBe(200);
    expect(res.body.items.find((i: Json) => i.id === 'turn:swept:7')).toMatchObject({ section: 'episodic', via: 'both' });
  });
});

describe('a vector store that cannot be reached', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeOpenAi();
    // The memories' store (a per-use override of the default store) is Qdrant on a port where
    // nothing listens: the gateway must still start and answer.
    const config = episodicConfig(up, 200);
    gw = await startGateway({ config: { ...config, vector: { collections: { memories: { kind: 'qdrant', url: 'http://127.0.0.1:1' } } } } });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('starts, answers chat with recent turns, and says the retrieval was degraded', async () => {
    const t = await gw.tenant();
    const turns = longTranscript(40, 'Q', { 5: 'My locker combination at the gym is 4-19-33.' });
    expect((await gw.call('POST', '/v1/sessions/dark/messages', { key: t.key, body: { messages: turns } })).status).toBe(201);

    const { data, response } = await t.client.chat.completions
      .create(ask('What is my locker combination?', { session_id: 'dark', context: { budget: 300 } }) as never)
      .withResponse();
    expect((data as Json).choices[0].message.content).toBeTruthy();
    expect(response.headers.get('x-context-degraded')).toBe('episodic');
    expect(Number(response.headers.get('x-session-history-turns'))).toBeGreaterThan(0);
    // What went upstream: the recent turns and the question, within the budget.
    const sent = up.requests.at(-1)?.body.messages as ChatMessage[];
    expect(sent.at(-1)?.content).toBe('What is my locker combination?');
    expect(sent.length).toBeGreaterThan(2);

    const ctx = await gw.call('POST', '/v1/context', { key: t.key, body: ask('What is my locker combination?', { session_id: 'dark', context: { budget: 300 } }) });
    expect(ctx.status).toBe(200);
    expect(ctx.body.retrieval).toMatchObject({ ran: true, degraded: ['episodic'] });
    expect(ctx.body.usage.prompt_tokens).toBeLessThanOrEqual(300);
    // Nothing was lost: both chat turns are in the transcript, waiting to be embedded.
    const session = await gw.call('GET', '/v1/sessions/dark', { key: t.key });
    expect(session.body.last_seq).toBe(42);
    expect(session.body.memory.turns_pending_embedding).toBe(42);
  });
});
