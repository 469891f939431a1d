import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';
import { startRelay } from '../helpers/relay.js';
import { createPgSql } from '../../src/store/pg/adapter.js';
import { noteCommitModes } from '../helpers/commit-modes.js';

describe('session-id chat: the gateway keeps the history', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;
  const lastPrompt = () => up.requests.at(-1)?.body.messages.map((m: { role: string; content: string }) => `${m.role}:${m.content}`);

  beforeAll(async () => {
    up = await startFakeOpenAi((req) => ({ kind: 'text', text: `re:${req.body.messages.at(-1).content}` }));
    gw = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url }]) });
    t = await gw.tenant();
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  const say = (session: string, content: string, extra: Record<string, unknown> = {}) =>
    t.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], ...extra, session_id: session } as never);

  it('prepends the stored turns, keeps the system prompt first, and does not store it', async () => {
    await say('s1', 'my name is Ada');
    await t.client.chat.completions.create({ model: 'm', messages: [{ role: 'system', content: 'be kind' }, { role: 'user', content: 'what is my name?' }], session_id: 's1' } as never);
    expect(lastPrompt()).toEqual(['system:be kind', 'user:my name is Ada', 'assistant:re:my name is Ada', 'user:what is my name?']);
    const transcript = await gw.call('GET', '/v1/sessions/s1/messages', { key: t.key });
    expect(transcript.status).toBe(200);
    expect(transcript.body.data.map((m: { seq: number; role: string }) => `${m.seq}:${m.role}`)).toEqual(['1:user', '2:assistant', '3:user', '4:assistant']);
    expect(transcript.body.data[0].token_count).toBeGreaterThan(3);
  });

  it('refuses a NUL character in a session turn with a 400 before the upstream is called; the text "\\u0000" is fine', async () => {
    const calls = up.requests.length;
    const nul = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: 'a\u0000b' }], session_id: 'nul-1' } });
    expect(nul.status).toBe(400);
    expect(nul.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_characters', param: 'messages' });
    expect(up.requests.length).toBe(calls);
    expect((await gw.call('GET', '/v1/sessions/nul-1/messages', { key: t.key })).status).toBe(404);
    // Six characters that spell an escape are just text.
    await say('nul-1', 'what does \\u0000 mean in JSON?');
    expect(lastPrompt()).toEqual(['user:what does \\u0000 mean in JSON?']);
  });

  it('accepts the session id in the X-Session-Id header and stores streamed answers once complete', async () => {
    const stream = await t.client.chat.completions.create(
      { model: 'm', stream: true, messages: [{ role: 'user', content: 'stream one' }] },
      { headers: { 'X-Session-Id': 'hdr-1' } },
    );
    for await (const _ of stream) {
      // drain
    }
    await t.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'next' }] }, { headers: { 'X-Session-Id': 'hdr-1' } });
    expect(lastPrompt()).toEqual(['user:stream one', 'assistant:re:stream one', 'user:next']);
  });

  it('keeps tool calls and tool results in the transcript and replays them', async () => {
    await t.client.chat.completions.create({
      model: 'm',
      session_id: 'tools',
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '21C' },
      ],
    } as never);
    await say('tools', 'thanks');
    const replay = up.requests.at(-1)?.body.messages;
    expect(replay[1]).toMatchObject({ role: 'assistant', content: null, tool_calls: [{ id: 'c1', function: { name: 'w' } }] });
    expect(replay[2]).toMatchObject({ role: 'tool', tool_call_id: 'c1', content: '21C' });
  });

  it('numbers concurrent turns of one session without gaps or duplicates', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => say('busy', `msg ${i}`)));
    const res = await gw.call('GET', '/v1/sessions/busy/messages?limit=100', { key: t.key });
    expect(res.body.data.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(res.body.last_seq).toBe(20);
  });

  it('imports a history with external ids and timestamps, idempotently', async () => {
    const messages = [
      { role: 'user', content: 'I adopted a cat named Miso', external_id: 'D1:1', created_at: '2023-05-08T13:56:00Z' },
      { role: 'assistant', content: 'Lovely name!', external_id: 'D1:2', created_at: '2023-05-08T13:57:00Z' },
    ];
    const first = await gw.call('POST', '/v1/sessions/imp/messages', { key: t.key, body: { messages } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ imported: 2, skipped: 0, first_seq: 1, last_seq: 2 });
    const again = await gw.call('POST', '/v1/sessions/imp/messages', { key: t.key, body: { messages } });
    expect(again.body).toMatchObject({ imported: 0, skipped: 2 });
    const page = await gw.call('GET', '/v1/sessions/imp/messages', { key: t.key });
    expect(page.body.data[0]).toMatchObject({ external_id: 'D1:1', created_at: '2023-05-08T13:56:00.000Z', content: 'I adopted a cat named Miso' });
    await say('imp', 'what is my cat called?');
    expect(lastPrompt()?.[0]).toBe('user:I adopted a cat named Miso');
  });

  it('pages through a transcript', async () => {
    const page1 = await gw.call('GET', '/v1/sessions/busy/messages?limit=8', { key: t.key });
    expect(page1.body.data).toHaveLength(8);
    expect(page1.body.has_more).toBe(true);
    const page3 = await gw.call('GET', '/v1/sessions/busy/messages?after=16&limit=8', { key: t.key });
    expect(page3.body.data.map((m: { seq: number }) => m.seq)).toEqual([17, 18, 19, 20]);
    expect(page3.body.has_more).toBe(false);
  });

  it("answers 404 for another tenant's session and reveals nothing", async () => {
    const other = await gw.tenant('intruder');
    const read = await gw.call('GET', '/v1/sessions/s1/messages', { key: other.key });
    expect(read.status).toBe(404);
    expect(read.body.error.code).toBe('session_not_found');
    expect(JSON.stringify(read.body)).not.toContain('Ada');
    const del = await gw.call('DELETE', '/v1/sessions/s1', { key: other.key });
    expect(del.status).toBe(404);
    // Chatting on the same id starts the intruder's own, empty session.
    await other.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], session_id: 's1' } as never);
    expect(lastPrompt()).toEqual(['user:hi']);
    const mine = await gw.call('GET', '/v1/sessions/s1/messages', { key: t.key });
    expect(mine.body.data).toHaveLength(4);
  });

  it('two gateways serving one session in turns each replay every turn (in-process copies are checked against SQL)', async () => {
    // Its own Redis prefix too: neither the other's Redis copy nor its own in-process copy can be trusted blindly.
    const other = await startGateway({ schema: gw.schema, config: upstreamConfig([{ name: 'up', baseUrl: up.url }]) });
    try {
      const sayOn = (g: TestGateway, content: string) =>
        g.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', session_id: 'shared', messages: [{ role: 'user', content }] } });
      expect((await sayOn(gw, 'one')).status).toBe(200);
      expect((await sayOn(other, 'two')).status).toBe(200);
      expect(lastPrompt()).toEqual(['user:one', 'assistant:re:one', 'user:two']);
      expect((await sayOn(gw, 'three')).status).toBe(200);
      expect(lastPrompt()).toEqual(['user:one', 'assistant:re:one', 'user:two', 'assistant:re:two', 'user:three']);
      expect((await sayOn(gw, 'four')).status).toBe(200); // served from this process's copy, extended by its own append
      expect(lastPrompt()).toEqual(['user:one', 'assistant:re:one', 'user:two', 'assistant:re:two', 'user:three', 'assistant:re:three', 'user:four']);
      expect((await sayOn(other, 'five')).status).toBe(200);
      expect(lastPrompt()?.length).toBe(9);
    } finally {
      await other.close();
    }
  });

  it('deletes a session and its transcript; the next chat on that id starts fresh', async () => {
    await say('gone', 'secret plan');
    const del = await gw.call('DELETE', '/v1/sessions/gone', { key: t.key });
    expect(del.body).toEqual({ id: 'gone', object: 'session.deleted', deleted: true });
    expect((await gw.call('GET', '/v1/sessions/gone/messages', { key: t.key })).status).toBe(404);
    await say('gone', 'hello again');
    expect(lastPrompt()).toEqual(['user:hello again']);
  });
});

describe('session history within the model window', () => {
  it('includes only the newest turns that fit, and refuses new messages that alone do not fit', async () => {
    const up = await startFakeOpenAi((req) => ({ kind: 'text', text: `ok ${req.body.messages.length}` }));
    const config = upstreamConfig([{ name: 'up', baseUrl: up.url }]);
    (config.models.m as Record<string, unknown>).contextWindow = 400;
    const gw = await startGateway({ config: { ...config, session: { safetyMarginTokens: 0 } }, redis: false });
    try {
      const t = await gw.tenant();
      const long = 'lorem ipsum dolor sit amet '.repeat(8); // ~40 tokens
      for (let i = 0; i < 10; i++) await t.client.chat.completions.create({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: `${i} ${long}` }], session_id: 'w' } as never);
      const sent = up.requests.at(-1)?.body.messages as Array<{ content: string }>;
      expect(sent.length).toBeLessThan(19);
      expect(sent.length).toBeGreaterThan(2);
      expect(sent.at(-1)?.content.startsWith('9 ')).toBe(true);
      // Oldest kept turn is a contiguous suffix of the history.
      const transcript = await gw.call('GET', '/v1/sessions/w/messages?limit=100', { key: t.key });
      const history = transcript.body.data.slice(0, -2); // minus the last request's own turn and answer
      const included = history.slice(-(sent.length - 1));
      expect(sent.slice(0, -1).map((m) => m.content)).toEqual(included.map((m: { content: string }) => m.content));
      // Exact accounting: stored counts of the included turns + the new turn + reply priming + max_tokens fit the window.
      const newTurn = transcript.body.data.at(-2).token_count;
      const used = included.reduce((s: number, m: { token_count: number }) => s + m.token_count, 0) + newTurn + 3 + 100;
      expect(used).toBeLessThanOrEqual(400);
      // …and one more turn would not have fit.
      expect(used + history.at(-sent.length).token_count).toBeGreaterThan(400);

      const res = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', max_tokens: 100, session_id: 'w', messages: [{ role: 'user', content: long.repeat(20) }] } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('context_length_exceeded');
    } finally {
      await gw.close();
      await up.close();
    }
  });
});

describe('Redis down mid-session', () => {
  it('loses no turn: requests succeed from SQL while Redis is away and history is right after it returns', async () => {
    const relay = await startRelay(new URL(TEST_REDIS_URL));
    const up = await startFakeOpenAi((req) => ({ kind: 'text', text: `re:${req.body.messages.at(-1).content}` }));
    const gw = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url }]), redis: relay.url });
    const prompt = () => up.requests.at(-1)?.body.messages.map((m: { content: string }) => m.content);
    try {
      const t = await gw.tenant();
      const say = (content: string) => t.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], session_id: 'r' } as never);
      await say('one');
      await say('two');
      expect((await gw.call('GET', '/readyz')).body.checks.redis).toBe('ok');

      relay.cut();
      await say('three (redis down)');
      expect(prompt()).toEqual(['one', 're:one', 'two', 're:two', 'three (redis down)']);
      await say('four (redis down)');
      const ready = await gw.call('GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('degraded');

      await relay.restore();
      await new Promise((r) => setTimeout(r, 300)); // ioredis reconnects in the background
      await say('five (redis back)');
      expect(prompt()).toEqual(['one', 're:one', 'two', 're:two', 'three (redis down)', 're:three (redis down)', 'four (redis down)', 're:four (redis down)', 'five (redis back)']);
      const transcript = await gw.call('GET', '/v1/sessions/r/messages', { key: t.key });
      expect(transcript.body.data).toHaveLength(10);
    } finally {
      await gw.close();
      await up.close();
      await relay.close();
    }
  });
});

describe('session.synchronousCommit: false', () => {
  it("commits a chat request's turns without waiting for the WAL flush, streamed or not", async () => {
    const up = await startFakeOpenAi();
    const gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), session: { synchronousCommit: false } } });
    const sql = await createPgSql({ url: TEST_DATABASE_URL, schema: gw.schema, poolSize: 1 });
    try {
      const commitModes = await noteCommitModes(sql);
      const t = await gw.tenant();
      await t.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], session_id: 'json' } as never);
      const stream = await t.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }], session_id: 'sse' } as never);
      for await (const _ of stream as unknown as AsyncIterable<unknown>) {
        // drain
      }
      expect(await commitModes()).toEqual([
        { session_id: 'json', mode: 'off' },
        { session_id: 'sse', mode: 'off' },
      ]);
      const transcript = await gw.call('GET', '/v1/sessions/sse/messages', { key: t.key });
      expect(transcript.body.data.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    } finally {
      await sql.close();
      await gw.close();
      await up.close();
    }
  });
});

describe('Postgres unreachable', () => {
  it('answers 503 storage_unavailable (no crash, no hang) and recovers when it returns', async () => {
    const dbUrl = new URL(TEST_DATABASE_URL);
    const relay = await startRelay(dbUrl, 5432);
    const viaRelay = new URL(TEST_DATABASE_URL);
    viaRelay.host = new URL(relay.url).host;
    const up = await startFakeOpenAi();
    const gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), database: { url: viaRelay.toString(), poolSize: 2 } }, redis: false });
    try {
      const t = await gw.tenant();
      const body = { model: 'm', session_id: 'pg', messages: [{ role: 'user', content: 'hi' }] };
      expect((await gw.call('POST', '/v1/chat/completions', { key: t.key, body })).status).toBe(200);
      relay.cut();
      const down = await gw.call('POST', '/v1/chat/completions', { key: t.key, body });
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('storage_unavailable');
      expect(down.headers.get('retry-after')).toBe('1');
      expect((await gw.call('GET', '/readyz')).status).toBe(503);
      await relay.restore();
      const back = await gw.call('POST', '/v1/chat/completions', { key: t.key, body });
      expect(back.status).toBe(200);
      const transcript = await gw.call('GET', '/v1/sessions/pg/messages', { key: t.key });
      expect(transcript.body.data.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4]);
    } finally {
      await gw.close();
      await up.close();
      await relay.close();
    }
  });
});
