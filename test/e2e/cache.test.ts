import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, type RecordedRequest, startFakeOpenAi } from '../helpers/fake-openai.js';
import { documentSettled, startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// The response cache end to end: exact and semantic hits through the real HTTP app and the official
// `openai` SDK, each scope rule, TTL, streamed replay, Cache-Control, purges, invalidation by a
// document update, what is never stored, and the accounting a hit leaves in /metrics.

/** The fake upstream numbers its answers, so a test can tell a cached answer from a fresh one. */
function numbered(req: RecordedRequest, n: number) {
  const last = req.body.messages.at(-1)?.content;
  return { kind: 'text' as const, text: `Answer ${n} to: ${typeof last === 'string' ? last : 'parts'}` };
}

const lastUser = (text: string) => [{ role: 'user' as const, content: text }];

describe('response cache', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;
  let other: Awaited<ReturnType<TestGateway['tenant']>>;
  let reply: (req: RecordedRequest, n: number) => Parameters<typeof startFakeOpenAi>[0] extends ((...a: never[]) => infer R) | undefined ? R : never;

  beforeAll(async () => {
    reply = numbered;
    up = await startFakeOpenAi((req, n) => reply(req, n));
    const upstream = upstreamConfig([{ name: 'up', baseUrl: up.url }], 'm');
    gw = await startGateway({
      config: {
        providers: upstream.providers,
        models: {
          m: { ...upstream.models.m, price: { input: 2.5, output: 10 } },
          other: upstream.models.m,
          short: { ...upstream.models.m, cache: { ttlSeconds: 1 } },
          nocache: { ...upstream.models.m, cache: { enabled: false } },
        },
        embeddings: { threads: 1 },
        cache: { enabled: true, threshold: 0.85, sessions: true },
      },
    });
    t = await gw.tenant('cache');
    other = await gw.tenant('other');
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  /** One chat completion through the SDK, with the response headers. */
  async function ask(text: string, opts: { model?: string; system?: string; client?: typeof t.client; headers?: Record<string, string>; extra?: Record<string, unknown> } = {}) {
    const messages = [...(opts.system ? [{ role: 'system' as const, content: opts.system }] : []), ...lastUser(text)];
    const { data, response } = await (opts.client ?? t.client).chat.completions
      .create({ model: opts.model ?? 'm', messages, ...opts.extra } as never, { headers: opts.headers })
      .withResponse();
    await gw.gateway.deps.cache.idle();
    // biome-ignore lint/suspicious/noExplicitAny: the extensions (usage.cache) are not in the SDK's types.
    return { body: data as any, cache: response.headers.get('x-cache'), kind: response.headers.get('x-cache-kind'), headers: response.headers };
  }

  it('answers the same request again from the exact cache, with zero upstream tokens and what it saved', async () => {
    const before = up.requests.length;
    const first = await ask('What is the boiling point of water at sea level?');
    expect(first.cache).toBe('miss');
    const second = await ask('What is the boiling point of water at sea level?');
    expect(up.requests.length).toBe(before + 1);
    expect(second.cache).toBe('hit');
    expect(second.kind).toBe('exact');
    expect(second.headers.get('x-cache-similarity')).toBe('1.0000');
    expect(second.headers.get('x-cache-entry')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(second.headers.get('x-cache-age'))).toBeGreaterThanOrEqual(0);
    expect(second.body.choices[0].message.content).toBe(first.body.choices[0].message.content);
    expect(second.body.usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    // The fake upstream reports 10 prompt and 5 completion tokens; m costs 2.5 / 10 USD per million.
    expect(second.body.usage.cache).toMatchObject({ kind: 'exact', saved: { prompt_tokens: 10, completion_tokens: 5, cost_usd: (10 * 2.5 + 5 * 10) / 1e6 } });
    // Whitespace differences are the same request.
    const spaced = await ask('  What is the boiling point of   water at sea level?\n');
    expect(spaced.kind).toBe('exact');
  });

  it('answers a paraphrase from the semantic cache, and refuses a near-miss through the guard', async () => {
    const first = await ask('How do I reset my password?');
    expect(first.cache).toBe('miss');
    const para = await ask('How can I reset my password?');
    expect(para.cache).toBe('hit');
    expect(para.kind).toBe('semantic');
    const similarity = Number(para.headers.get('x-cache-similarity'));
    expect(similarity).toBeGreaterThanOrEqual(0.85);
    expect(similarity).toBeLessThan(1);
    expect(para.body.choices[0].message.content).toBe(first.body.choices[0].message.content);

    await ask('Convert 5 km to miles');
    const near = await ask('Convert 50 km to miles');
    expect(near.cache).toBe('miss');
    expect(near.body.choices[0].message.content).toContain('50 km');
  });

  it('keeps hits within their scope: tenant, model, system prompt, and the session context', async () => {
    const q = 'Which planet is the largest in the solar system?';
    await ask(q, { system: 'You are terse.' });
    expect((await ask(q, { system: 'You are terse.' })).cache).toBe('hit');
    expect((await ask(q, { system: 'You are verbose.' })).cache).toBe('miss');
    expect((await ask(q, { system: 'You are terse.', model: 'other' })).cache).toBe('miss');
    expect((await ask(q, { system: 'You are terse.', client: other.client })).cache).toBe('miss');

    // Two sessions, same new message: each answer stays with its own session.
    const inSession = (session: string) => ask('What did I tell you my name was?', { headers: { 'x-session-id': session } });
    const a = await inSession('cache-sess-a');
    const b = await inSession('cache-sess-b');
    expect(a.cache).toBe('miss');
    expect(b.cache).toBe('miss');
    expect(b.body.choices[0].message.content).not.toBe(a.body.choices[0].message.content);
  });

  it('never answers a session from an earlier state of its history, and forgets a deleted session\'s entries', async () => {
    const session = 'cache-sess-same';
    const q = 'Say something about tea.';
    // Asked twice in one session, the same message is not the same request: the first exchange is
    // history the second time.
    const first = await ask(q, { headers: { 'x-session-id': session } });
    const second = await ask(q, { headers: { 'x-session-id': session } });
    expect([first.cache, second.cache]).toEqual(['miss', 'miss']);
    const turns = await gw.call('GET', `/v1/sessions/${session}/messages`, { key: t.key });
    expect(turns.body.data).toHaveLength(4);

    const queries = async () => (await gw.admin('GET', `/admin/v1/cache/entries?tenant_id=${t.id}&limit=1000`)).body.data.filter((e: { query: string }) => e.query === q).length;
    expect(await queries()).toBe(2);
    expect((await gw.call('DELETE', `/v1/sessions/${session}`, { key: t.key })).status).toBe(200);
    expect(await queries()).toBe(0);
  });

  it('replays a hit as a stream the openai SDK reads, and stores a streamed answer once complete', async () => {
    const q = 'Name three primary colours.';
    const live = await t.client.chat.completions.create({ model: 'm', messages: lastUser(q), stream: true, stream_options: { include_usage: true } });
    let liveText = '';
    for await (const chunk of live) liveText += chunk.choices[0]?.delta?.content ?? '';
    await gw.gateway.deps.cache.idle();
    const before = up.requests.length;

    const { data: replay, response } = await t.client.chat.completions.create({ model: 'm', messages: lastUser(q), stream: true, stream_options: { include_usage: true } }).withResponse();
    expect(response.headers.get('x-cache')).toBe('hit');
    const chunks = [];
    for await (const chunk of replay) chunks.push(chunk);
    expect(up.requests.length).toBe(before);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(liveText);
    expect(chunks[0]?.choices[0]?.delta?.role).toBe('assistant');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 0 });

    // A JSON request for the same question is the same entry.
    const json = await ask(q);
    expect(json.kind).toBe('exact');
    expect(json.body.choices[0].message.content).toBe(liveText);
  });

  it('honours Cache-Control: no-cache refreshes the entry, no-store neither reads nor writes', async () => {
    const q = 'What is the tallest mountain?';
    const first = await ask(q);
    const refreshed = await ask(q, { headers: { 'cache-control': 'no-cache' } });
    expect(refreshed.cache).toBe('refresh');
    expect(refreshed.body.choices[0].message.content).not.toBe(first.body.choices[0].message.content);
    const after = await ask(q);
    expect(after.cache).toBe('hit');
    expect(after.body.choices[0].message.content).toBe(refreshed.body.choices[0].message.content);
    // max-age: an entry older than the client accepts does not answer.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await ask(q, { headers: { 'cache-control': 'max-age=60' } })).cache).toBe('hit');
    expect((await ask(q, { headers: { 'cache-control': 'max-age=0' } })).cache).toBe('miss');

    const secret = 'Summarise my private notes about project Zephyr.';
    const off = await ask(secret, { headers: { 'cache-control': 'no-store' } });
    expect(off.cache).toBe('off');
    expect(off.headers.get('x-cache-reason')).toBe('Cache-Control: no-store');
    expect((await ask(secret)).cache).toBe('miss');
  });

  it('expires entries after their TTL, per model alias', async () => {
    const q = 'How many legs does a spider have?';
    await ask(q, { model: 'short' });
    expect((await ask(q, { model: 'short' })).cache).toBe('hit');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await ask(q, { model: 'short' })).cache).toBe('miss');
    // The sweep deletes what expired (its SQL row and its vector).
    await new Promise((r) => setTimeout(r, 1100));
    expect(await gw.gateway.deps.cache.sweep()).toBeGreaterThanOrEqual(1);
  });

  it('skips what must not be cached, and says why', async () => {
    const hot = await ask('Write a poem about the sea.', { extra: { temperature: 1.5 } });
    expect(hot.cache).toBe('skip');
    expect(hot.headers.get('x-cache-reason')).toBe('temperature above 1');
    expect((await ask('Write a poem about rain.', { model: 'nocache' })).cache).toBe('off');
    const tool = await gw.call('POST', '/v1/chat/completions', {
      key: t.key,
      body: {
        model: 'm',
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: '14 C, rain' },
          { role: 'user', content: 'And should I take an umbrella?' },
        ],
      },
    });
    expect(tool.headers.get('x-cache')).toBe('skip');
    expect(tool.headers.get('x-cache-reason')).toBe('the conversation holds tool results');
  });

  it('never stores an error or a stream that did not finish', async () => {
    reply = () => ({ kind: 'error', status: 500 });
    const q = 'Is this answer an error?';
    const failed = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: lastUser(q) } });
    expect(failed.status).toBe(502);
    reply = numbered;
    expect((await ask(q)).cache).toBe('miss');

    // The upstream sends two chunks, then nothing: the gateway gives up (idle timeout), nothing is stored.
    reply = () => ({ kind: 'stall', chunks: ['Half ', 'an answer'] });
    const s = 'Tell me a story that never ends.';
    const stalled = await t.client.chat.completions.create({ model: 'm', messages: lastUser(s), stream: true }, { timeout: 10_000 });
    const ended = (async () => {
      for await (const _ of stalled) {
        /* read until the error */
      }
    })();
    await expect(ended).rejects.toThrow();
    await gw.gateway.deps.cache.idle();
    reply = numbered;
    expect((await ask(s)).cache).toBe('miss');
  }, 20_000);

  it('lists the most used entries and purges by entry, model and tenant', async () => {
    const q = 'What is the speed of light?';
    await ask(q);
    await ask(q);
    const hit = await ask(q);
    const id = hit.headers.get('x-cache-entry');
    const top = await gw.admin('GET', `/admin/v1/cache/entries?tenant_id=${t.id}&limit=5`);
    expect(top.status).toBe(200);
    const mine = top.body.data.find((e: { id: string }) => e.id === id);
    expect(mine).toMatchObject({ object: 'cache.entry', alias: 'm', query: q, hits: 2, tenant_id: t.id });
    expect(top.body.data[0].hits).toBeGreaterThanOrEqual(2);

    expect((await gw.admin('DELETE', `/admin/v1/cache/entries/${id}?tenant_id=${t.id}`)).status).toBe(200);
    expect((await gw.admin('DELETE', `/admin/v1/cache/entries/${id}?tenant_id=${t.id}`)).status).toBe(404);
    expect((await ask(q)).cache).toBe('miss');

    await ask('Purge me by model', { model: 'other' });
    const byModel = await gw.admin('DELETE', `/admin/v1/cache/entries?tenant_id=${t.id}&model=other`);
    expect(byModel.body.deleted).toBeGreaterThanOrEqual(1);
    expect((await ask('Purge me by model', { model: 'other' })).cache).toBe('miss');

    const unscoped = await gw.admin('DELETE', '/admin/v1/cache/entries');
    expect(unscoped.status).toBe(400);
    expect(unscoped.body.error.param).toBe('tenant_id');
    await ask('Purge me by tenant', { client: other.client });
    const byTenant = await gw.admin('DELETE', `/admin/v1/cache/entries?tenant_id=${other.id}`);
    expect(byTenant.body.deleted).toBeGreaterThanOrEqual(1);
    expect((await gw.admin('GET', `/admin/v1/cache/entries?tenant_id=${other.id}`)).body.data).toEqual([]);
    // Tenant keys cannot reach the admin API.
    expect((await gw.call('GET', '/admin/v1/cache/entries', { key: t.key })).status).toBe(403);
  });

  it('forgets answers drawn on a collection when its documents change', async () => {
    const col = (await gw.call('POST', '/v1/collections', { key: t.key, body: { name: 'Handbook' } })).body.id;
    const upload = async (text: string) => {
      const res = await gw.call('POST', `/v1/collections/${col}/documents`, { key: t.key, body: { text, title: 'Leave', external_id: 'leave' } });
      expect((await documentSettled(gw, t.key, res.body.data[0].id)).status).toBe('ready');
    };
    await upload('# Leave\n\nEmployees get 25 days of paid leave a year.');
    const q = 'How many days of paid leave do employees get?';
    const withDocs = { extra: { context: { collections: [col] } } };
    const first = await ask(q, withDocs);
    expect(first.cache).toBe('miss');
    expect((await ask(q, withDocs)).cache).toBe('hit');
    await upload('# Leave\n\nEmployees get 30 days of paid leave a year.');
    // The new version's ingestion (in the background) removes the entry once it is ready.
    const until = Date.now() + 10_000;
    const cached = async () => (await gw.admin('GET', `/admin/v1/cache/entries?tenant_id=${t.id}&limit=1000`)).body.data.some((e: { query: string }) => e.query === q);
    while ((await cached()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await cached()).toBe(false);
    const after = await ask(q, withDocs);
    expect(after.cache).toBe('miss');
    expect(up.requests.at(-1)?.body.messages.some((m: { content: string }) => m.content.includes('30 days'))).toBe(true);
  }, 60_000);

  it('forgets answers drawn on a user\'s memories when they change, and when the user is forgotten', async () => {
    const q = 'What drink should I order?';
    const asUser = { extra: { user: 'ada', context: { facts: true } } };
    await gw.call('POST', '/v1/memories', { key: t.key, body: { user: 'ada', text: 'Ada drinks green tea every morning.' } });
    expect((await ask(q, asUser)).cache).toBe('miss');
    expect((await ask(q, asUser)).cache).toBe('hit');
    // Another user's same question in the same words is another scope.
    expect((await ask(q, { extra: { user: 'bob', context: { facts: true } } })).cache).toBe('miss');
    const cachedFor = async (user: string) => {
      await gw.gateway.deps.cache.idle();
      const rows = (await gw.gateway.deps.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM cache_entries WHERE tenant_id = $1 AND user_id = $2', [t.id, user])).rows;
      return rows[0]?.n;
    };
    expect(await cachedFor('ada')).toBe(1);
    await gw.call('POST', '/v1/memories', { key: t.key, body: { user: 'ada', text: 'Ada stopped drinking tea; she drinks coffee now.' } });
    expect(await cachedFor('ada')).toBe(0);
    expect(await cachedFor('bob')).toBe(1);
    expect((await gw.call('DELETE', '/v1/memories?user=bob', { key: t.key })).status).toBe(200);
    expect(await cachedFor('bob')).toBe(0);
  });

  it('reports the hit ratio per kind in /metrics', async () => {
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (name: string) => Number(text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm'))?.[1]);
    const exactHits = value('gateway_cache_lookups_total{kind="exact",result="hit"}');
    const exactMiss = value('gateway_cache_lookups_total{kind="exact",result="miss"}');
    expect(exactHits).toBeGreaterThan(0);
    expect(value('gateway_cache_hit_ratio{kind="exact"}')).toBeCloseTo(exactHits / (exactHits + exactMiss), 6);
    expect(value('gateway_cache_lookups_total{kind="semantic",result="hit"}')).toBeGreaterThan(0);
    expect(value('gateway_cache_hit_ratio{kind="semantic"}')).toBeGreaterThan(0);
    expect(value('gateway_cache_saved_tokens_total{direction="completion"}')).toBeGreaterThan(0);
    expect(value('gateway_cache_saved_cost_usd_total')).toBeGreaterThan(0);
  });
});

describe('response cache defaults', () => {
  it('is off unless enabled, and leaves session requests alone unless cache.sessions', async () => {
    const up = await startFakeOpenAi(numbered);
    const off = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url }]) });
    const on = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), cache: { enabled: true } } });
    try {
      const a = await off.tenant();
      const body = { model: 'm', messages: lastUser('Hello?') };
      expect((await off.call('POST', '/v1/chat/completions', { key: a.key, body })).headers.get('x-cache')).toBe('off');
      const b = await on.tenant();
      const session = await on.call('POST', '/v1/chat/completions', { key: b.key, body: { ...body, session_id: 's1' } });
      expect(session.headers.get('x-cache')).toBe('skip');
      expect(session.headers.get('x-cache-reason')).toBe('session requests are not cached (cache.sessions)');
      expect((await on.call('POST', '/v1/chat/completions', { key: b.key, body })).headers.get('x-cache')).toBe('miss');
    } finally {
      await off.close();
      await on.close();
      await up.close();
    }
  });
});

describe('response cache on the embedded default (PGlite + pgvector)', () => {
  it('finds a paraphrase through pgvector, filtered by scope', async () => {
    const up = await startFakeOpenAi(numbered);
    const gw = await startGateway({ sql: 'pglite', redis: false, config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), cache: { enabled: true }, embeddings: { threads: 1 } } });
    try {
      expect(gw.gateway.deps.cache.spec.indexedKeys).toEqual(['scope']);
      const t = await gw.tenant();
      const ask = async (content: string, system?: string) => {
        const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content }];
        const res = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages } });
        await gw.gateway.deps.cache.idle();
        return res;
      };
      const first = await ask('How do I reset my password?');
      expect(first.headers.get('x-cache')).toBe('miss');
      const para = await ask('How can I reset my password?');
      expect(para.headers.get('x-cache-kind')).toBe('semantic');
      expect(para.body.choices[0].message.content).toBe(first.body.choices[0].message.content);
      // The same paraphrase under another system prompt is another scope.
      expect((await ask('How can I reset my password?', 'Answer in French.')).headers.get('x-cache')).toBe('miss');
      // One vector per stored question, in the pgvector table of the cache collection.
      const points = await gw.gateway.deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM vec_${gw.gateway.deps.cache.spec.name}`);
      expect(points.rows[0]?.n).toBe(2);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
