import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, type FakeReply, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';
import type { Sql } from '../../src/store/sql.js';
import { createUsageRecorder, type UsageEvent } from '../../src/usage/recorder.js';

// Usage rows and cost: one row per chat request (JSON, streamed, a client leaving mid-stream, a cache
// hit, an upstream failure), priced by the table, and GET /v1/usage grouped, ranged and as CSV.

describe('usage and cost', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;
  let other: Awaited<ReturnType<TestGateway['tenant']>>;
  let reply: () => FakeReply = () => ({ kind: 'text', text: 'Hello from upstream.' });

  beforeAll(async () => {
    up = await startFakeOpenAi(() => reply());
    const provider = { kind: 'openai', baseUrl: up.url, apiKey: 'sk-test-0123456789' };
    gw = await startGateway({
      config: {
        providers: { up: provider, quiet: { ...provider, streamUsage: false } },
        models: {
          m: { targets: [{ provider: 'up', model: 'gpt-4o-mini-2024-07-18', retries: 0 }] },
          // An upstream that must not be sent stream_options: its streams are counted by the tokenizer.
          q: { targets: [{ provider: 'quiet', model: 'gpt-4o-mini-2024-07-18', retries: 0 }] },
          local: { targets: [{ provider: 'up', model: 'llama3.1:8b' }] },
          priced: { targets: [{ provider: 'up', model: 'gpt-4o' }], price: { input: 100, output: 1000 } },
        },
        cache: { enabled: true, semantic: false },
      },
    });
    t = await gw.tenant('usage');
    other = await gw.tenant('other');
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const rows = async () => {
    await gw.gateway.deps.usage.flush();
    return (await gw.gateway.deps.sql.query<Record<string, unknown>>('SELECT * FROM usage_events WHERE tenant_id = $1 ORDER BY id', [t.id])).rows;
  };
  /** A usage row of tenant `t`, as the chat path records it, for the tests that drive the recorder directly. */
  const event = (requestId: string, userId: string | null = null): UsageEvent => ({
    ...{ tenantId: t.id, requestId, keyId: null, teamId: null, userId, sessionId: null, route: 'chat', alias: 'm', provider: 'up', model: 'x' },
    ...{ promptTokens: 1, cachedTokens: 0, completionTokens: 1, contextTokens: null, cache: null, costUsd: 0, savedUsd: 0, latencyMs: 1 },
    ...{ status: 200, errorCode: null, at: new Date() },
  });
  const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    gw.call('POST', '/v1/chat/completions', { key: t.key, body: { messages: [{ role: 'user', content: 'Hi there' }], ...body }, headers });

  it('writes a row per JSON request, priced by the upstream model (a dated snapshot takes its family price)', async () => {
    const res = await chat({ model: 'm' }, { 'cache-control': 'no-store' });
    expect(res.status).toBe(200);
    const row = (await rows()).find((r) => r.request_id === res.headers.get('x-request-id'));
    expect(row).toMatchObject({ route: 'chat', alias: 'm', provider: 'up', model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 10, completion_tokens: 5, status: 200, cache: null, error_code: null });
    // gpt-4o-mini: 0.15 in, 0.60 out per million.
    expect(row?.cost_usd).toBeCloseTo((10 * 0.15 + 5 * 0.6) / 1e6, 12);
    expect(row?.key_id).toMatch(/\S/);
    expect(Number(row?.latency_ms)).toBeGreaterThan(0);

    const own = await chat({ model: 'priced' }, { 'cache-control': 'no-store' });
    const ownRow = (await rows()).find((r) => r.request_id === own.headers.get('x-request-id'));
    expect(ownRow?.cost_usd).toBeCloseTo((10 * 100 + 5 * 1000) / 1e6, 12);
    const local = await chat({ model: 'local' }, { 'cache-control': 'no-store' });
    expect((await rows()).find((r) => r.request_id === local.headers.get('x-request-id'))?.cost_usd).toBe(0);
  });

  it("meters a stream with the upstream's usage, which the client gets only when it asked", async () => {
    const res = await chat({ model: 'm', stream: true }, { 'cache-control': 'no-store' });
    expect(res.status).toBe(200);
    expect(up.requests.at(-1)?.body.stream_options).toEqual({ include_usage: true });
    const sse = res.body as string;
    expect(sse).toContain('Hello');
    expect(sse).not.toContain('"usage":{');
    expect(sse.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const row = (await rows()).find((r) => r.request_id === res.headers.get('x-request-id'));
    // The fake upstream's own counts, not the tokenizer's.
    expect(row).toMatchObject({ prompt_tokens: 10, completion_tokens: 5 });

    const asked = await chat({ model: 'm', stream: true, stream_options: { include_usage: true } }, { 'cache-control': 'no-store' });
    expect(asked.body as string).toContain('"usage":{"prompt_tokens":10,"completion_tokens":5');
    expect((await rows()).find((r) => r.request_id === asked.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 10, completion_tokens: 5 });
  });

  it('counts a stream without upstream usage with the tokenizer, and a stream the client left', async () => {
    const res = await chat({ model: 'q', stream: true }, { 'cache-control': 'no-store' });
    expect(res.status).toBe(200);
    expect(up.requests.at(-1)?.body.stream_options).toBeUndefined();
    const tok = getTokenizer('o200k_base');
    const row = (await rows()).find((r) => r.request_id === res.headers.get('x-request-id'));
    expect(row?.completion_tokens).toBe(tok.count('Hello from upstream.'));
    expect(Number(row?.prompt_tokens)).toBeGreaterThan(0);

    reply = () => ({ kind: 'text', text: 'one two three four five six seven eight nine ten', chunkDelayMs: 100 });
    const ac = new AbortController();
    const resp = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Count' }] }),
      signal: ac.signal,
    });
    const id = resp.headers.get('x-request-id');
    const reader = (resp.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    while (!seen.includes('three')) seen += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    reply = () => ({ kind: 'text', text: 'Hello from upstream.' });
    const until = Date.now() + 5000;
    let left: Record<string, unknown> | undefined;
    while (!left && Date.now() < until) {
      left = (await rows()).find((r) => r.request_id === id);
      if (!left) await new Promise((r) => setTimeout(r, 50));
    }
    expect(left).toMatchObject({ status: 499 });
    // What was sent before the client left is counted; not the whole answer.
    expect(Number(left?.completion_tokens)).toBeGreaterThan(0);
    expect(Number(left?.completion_tokens)).toBeLessThan(tok.count('one two three four five six seven eight nine ten'));
  });

  it('records a cache hit with no upstream tokens and what it saved, and an upstream failure with its code', async () => {
    await chat({ model: 'm', messages: [{ role: 'user', content: 'Cache me' }] });
    await gw.gateway.deps.cache.idle();
    const hit = await chat({ model: 'm', messages: [{ role: 'user', content: 'Cache me' }] });
    expect(hit.headers.get('x-cache')).toBe('hit');
    const row = (await rows()).find((r) => r.request_id === hit.headers.get('x-request-id'));
    expect(row).toMatchObject({ cache: 'exact', prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, provider: null });
    expect(row?.saved_usd).toBeCloseTo((10 * 0.15 + 5 * 0.6) / 1e6, 12);

    reply = () => ({ kind: 'error', status: 500 });
    const failed = await chat({ model: 'm' }, { 'cache-control': 'no-store' });
    reply = () => ({ kind: 'text', text: 'Hello from upstream.' });
    expect(failed.status).toBe(502);
    const bad = (await rows()).find((r) => r.request_id === failed.headers.get('x-request-id'));
    expect(bad).toMatchObject({ status: 502, error_code: failed.body.error.code, completion_tokens: 0 });
  });

  it('answers GET /v1/usage grouped, within a range, as JSON and CSV, for the key\'s tenant only', async () => {
    const all = await rows();
    const grouped = await gw.call('GET', '/v1/usage?group_by=alias,status', { key: t.key });
    expect(grouped.status).toBe(200);
    const m200 = grouped.body.data.find((r: { alias: string; status: number }) => r.alias === 'm' && r.status === 200);
    const expected = all.filter((r) => r.alias === 'm' && r.status === 200);
    expect(m200.requests).toBe(expected.length);
    expect(m200.completion_tokens).toBe(expected.reduce((s, r) => s + Number(r.completion_tokens), 0));
    // The API rounds costs to 6 decimals.
    expect(m200.cost_usd).toBeCloseTo(expected.reduce((s, r) => s + Number(r.cost_usd), 0), 5);
    expect(m200.cache_hits).toBe(expected.filter((r) => r.cache !== null).length);
    const total = await gw.call('GET', '/v1/usage', { key: t.key });
    expect(total.body.data).toHaveLength(1);
    expect(total.body.data[0].requests).toBe(all.length);
    expect(total.body.data[0].errors).toBe(all.filter((r) => Number(r.status) >= 400).length);

    const day = new Date().toISOString().slice(0, 10);
    const csv = await gw.call('GET', `/v1/usage?group_by=day,model&format=csv&from=${day}`, { key: t.key });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (csv.body as string).trim().split('\r\n');
    expect(lines[0]).toBe('day,model,requests,prompt_tokens,cached_tokens,completion_tokens,cost_usd,saved_usd,cache_hits,errors,latency_ms_avg,latency_ms_p95');
    expect(lines.slice(1).every((l) => l.startsWith(`${day},`))).toBe(true);
    expect(lines.slice(1).reduce((s, l) => s + Number(l.split(',')[2]), 0)).toBe(all.length);

    const past = await gw.call('GET', '/v1/usage?from=2020-01-01&to=2020-02-01', { key: t.key });
    expect(past.body.data).toEqual([]);
    expect((await gw.call('GET', '/v1/usage', { key: other.key })).body.data).toEqual([]);
    const backwards = await gw.call('GET', '/v1/usage?from=2026-02-01&to=2026-01-01', { key: t.key });
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.param).toBe('from');
    const unknown = await gw.call('GET', '/v1/usage?group_by=colour', { key: t.key });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('colour');

    const admin = await gw.admin('GET', `/admin/v1/usage?group_by=tenant`);
    expect(admin.body.data.find((r: { tenant: string }) => r.tenant === t.id).requests).toBe(all.length);
    expect((await gw.call('GET', '/admin/v1/usage', { key: t.key })).status).toBe(403);
  });

  it('refuses a `user` Postgres cannot store, so one request cannot hold back every usage row', async () => {
    const bad = await chat({ model: 'm', user: 'u\u0000x' }, { 'cache-control': 'no-store' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_characters', param: 'user' });
    const good = await chat({ model: 'm', user: 'after' }, { 'cache-control': 'no-store' });
    expect(good.status).toBe(200);
    expect((await rows()).find((r) => r.request_id === good.headers.get('x-request-id'))).toMatchObject({ user_id: 'after', status: 200 });
  });

  it('writes the rows of a batch that holds an unstorable row, and drops that row alone', async () => {
    const usage = gw.gateway.deps.usage;
    usage.record(event('batch-a', 'a'));
    usage.record(event('batch-bad', 'b\u0000'));
    usage.record(event('batch-c', 'c'));
    const ids = (await rows()).map((r) => r.request_id);
    expect(ids).toEqual(expect.arrayContaining(['batch-a', 'batch-c']));
    expect(ids).not.toContain('batch-bad');
    // Nothing is left behind to fail the next flush.
    usage.record(event('batch-d', 'd'));
    expect((await rows()).map((r) => r.request_id)).toContain('batch-d');
  });

  it('writes the rows a flush found in one transaction; rows recorded during its write wait for the next one', async () => {
    const { sql, log } = gw.gateway.deps;
    const held = holdFirstTransaction(sql);
    const recorder = createUsageRecorder({ sql: held.sql, log });
    const { release } = held;
    try {
      recorder.record(event('tick-1'));
      recorder.record(event('tick-2'));
      const first = recorder.flush();
      expect(held.transactions()).toBe(1);
      // Requests answered while the write is on its way.
      for (const id of ['tick-3', 'tick-4', 'tick-5']) recorder.record(event(id));
      release();
      await first;
      // One transaction for the two rows it found; the three later ones were not written behind them.
      expect(held.transactions()).toBe(1);
      await recorder.flush();
      expect(held.transactions()).toBe(2);
      const { rows: written } = await sql.query<{ request_id: string }>(
        "SELECT request_id FROM usage_events WHERE tenant_id = $1 AND request_id LIKE 'tick-%' ORDER BY request_id",
        [t.id],
      );
      expect(written.map((r) => r.request_id)).toEqual(['tick-1', 'tick-2', 'tick-3', 'tick-4', 'tick-5']);
    } finally {
      release();
      await recorder.close();
    }
  });

  it('drops the oldest rows a write does not hold when the buffer is full, a tenth at a time, and counts them', async () => {
    const { sql } = gw.gateway.deps;
    const held = holdFirstTransaction(sql);
    const { release } = held;
    const lines: Array<{ msg: string; dropped?: number }> = [];
    const log = pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const recorder = createUsageRecorder({ sql: held.sql, log, maxBuffered: 20 });
    const id = (i: number) => `full-${String(i).padStart(2, '0')}`;
    try {
      for (let i = 0; i < 5; i++) recorder.record(event(id(i)));
      const first = recorder.flush(); // holds full-00…04 while SQL does not answer
      // SQL stays away while 30 more requests end: the buffer passes its limit of 20.
      for (let i = 5; i < 35; i++) recorder.record(event(id(i)));
      release();
      await first;
      await recorder.flush();
      const { rows: written } = await sql.query<{ request_id: string }>(
        "SELECT request_id FROM usage_events WHERE tenant_id = $1 AND request_id LIKE 'full-%' ORDER BY request_id",
        [t.id],
      );
      const ids = written.map((r) => r.request_id);
      const full = lines.filter((l) => l.msg.startsWith('usage buffer full'));
      const dropped = full.at(-1)?.dropped ?? 0;
      // Past the limit of 20 the buffer goes down to 18: one error line per 2-3 rows dropped, not one per row.
      expect(full.length).toBeLessThan(dropped / 2);
      // The rows being written stay; the oldest of the others go, and every row is either written or counted.
      expect(ids.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map(id));
      expect(ids.at(-1)).toBe(id(34));
      expect(ids.length + dropped).toBe(35);
      expect(ids).toEqual([...[0, 1, 2, 3, 4], ...Array.from({ length: 35 - 5 - dropped }, (_, k) => 5 + dropped + k)].map(id));
    } finally {
      release();
      await recorder.close();
    }
  });
});

/** The real adapter, with its first transaction held until `release` (SQL slow or away for one write). */
function holdFirstTransaction(sql: Sql): { sql: Sql; release: () => void; transactions: () => number } {
  let release = (): void => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let transactions = 0;
  const proxied = new Proxy(sql, {
    get: (target, prop, receiver) =>
      prop === 'transaction'
        ? async (...args: Parameters<Sql['transaction']>) => {
            if (++transactions === 1) await held;
            return target.transaction(...args);
          }
        : Reflect.get(target, prop, receiver),
  });
  return { sql: proxied, release: () => release(), transactions: () => transactions };
}
