import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { type FakeOpenAi, type FakeReply, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function upstream(handler: (n: number) => FakeReply): Promise<FakeOpenAi> {
  const up = await startFakeOpenAi((_req, n) => handler(n));
  closers.push(up.close);
  return up;
}

async function gateway(config: Record<string, unknown>): Promise<{ gw: TestGateway; client: OpenAI }> {
  const gw = await startGateway({ config, redis: false });
  closers.push(gw.close);
  const t = await gw.tenant();
  return { gw, client: t.client };
}

const ask = (client: OpenAI, stream = false) =>
  stream
    ? client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })
    : client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

describe('router: fallbacks, retries, timeouts, aborts', () => {
  it.each([
    ['a 500', { kind: 'error', status: 500 } as const],
    ['a 429', { kind: 'error', status: 429 } as const],
    ['a 503', { kind: 'error', status: 503 } as const],
  ])('falls back to the second target when the first returns %s', async (_label, failure) => {
    const a = await upstream(() => failure);
    const b = await upstream(() => ({ kind: 'text', text: 'from b' }));
    const { client } = await gateway({ ...upstreamConfig([{ name: 'a', baseUrl: a.url, retries: 0 }, { name: 'b', baseUrl: b.url }]), router: { retries: 0 } });
    const res = (await ask(client)) as OpenAI.ChatCompletion;
    expect(res.choices[0]?.message.content).toBe('from b');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
  });

  it('falls back when the first target times out, and aborts the slow request', async () => {
    const a = await upstream(() => ({ kind: 'hang' }));
    const b = await upstream(() => ({ kind: 'text', text: 'from b' }));
    const { client } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url, timeoutMs: 150, retries: 0 }, { name: 'b', baseUrl: b.url }]));
    const res = (await ask(client)) as OpenAI.ChatCompletion;
    expect(res.choices[0]?.message.content).toBe('from b');
    await a.requests[0]?.aborted; // resolves only if the gateway closed the hanging request
  });

  it('falls back when a connection is refused', async () => {
    const b = await upstream(() => ({ kind: 'text', text: 'from b' }));
    const { client } = await gateway(upstreamConfig([{ name: 'a', baseUrl: 'http://127.0.0.1:9/v1', retries: 0 }, { name: 'b', baseUrl: b.url }]));
    const res = (await ask(client, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>;
    let text = '';
    for await (const c of res) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('from b');
  });

  it('retries a transient failure up to the limit, then answers 502 naming the attempts', async () => {
    const a = await upstream(() => ({ kind: 'error', status: 500, message: 'boom with key sk-live-abcdef123456' }));
    const { gw, client } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url, retries: 2 }]));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(a.requests).toHaveLength(3);
    const raw = await gw.call('POST', '/v1/chat/completions', { key: (await gw.tenant('other')).key, body: { model: 'm', messages: [{ role: 'user', content: 'x' }] } });
    expect(raw.body.error.code).toBe('upstream_server_error');
    expect(raw.body.error.message).toContain('after 3 attempt(s)');
    expect(JSON.stringify(raw.body)).not.toContain('sk-');
  });

  it('recovers when a retry succeeds', async () => {
    const a = await upstream((n) => (n === 1 ? { kind: 'error', status: 502 } : { kind: 'text', text: 'second time lucky' }));
    const { client } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url, retries: 1 }]));
    const res = (await ask(client)) as OpenAI.ChatCompletion;
    expect(res.choices[0]?.message.content).toBe('second time lucky');
    expect(a.requests).toHaveLength(2);
  });

  it('does not retry or fall back on a 400, and passes its message without secrets', async () => {
    const a = await upstream(() => ({ kind: 'error', status: 400, message: "Invalid 'temperature' for key sk-proj-abcdefghijkl" }));
    const b = await upstream(() => ({ kind: 'text', text: 'never' }));
    const { gw } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url }, { name: 'b', baseUrl: b.url }]));
    const t = await gw.tenant('x');
    const res = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: 'x' }] } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain("Invalid 'temperature'");
    expect(res.body.error.message).not.toContain('sk-proj');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });

  it('answers 504 when every target times out', async () => {
    const a = await upstream(() => ({ kind: 'hang' }));
    const { gw } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url, timeoutMs: 100, retries: 1 }]));
    const t = await gw.tenant('x');
    const res = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: 'x' }] } });
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe('upstream_timeout');
    expect(a.requests).toHaveLength(2);
  });

  it('aborts the upstream request when the client disconnects (JSON and stream)', async () => {
    const a = await upstream((n) => (n === 1 ? { kind: 'hang' } : { kind: 'stall', chunks: ['partial '] }));
    const { client } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url }]));
    const ac = new AbortController();
    const pending = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { signal: ac.signal }).catch(() => 'aborted');
    while (a.requests.length < 1) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    expect(await pending).toBe('aborted');
    await a.requests[0]?.aborted;

    const ac2 = new AbortController();
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }, { signal: ac2.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    ac2.abort();
    await a.requests[1]?.aborted;
    expect(a.requests).toHaveLength(2);
  });

  it('stops a stream that goes silent after the idle timeout with an error event', async () => {
    const a = await upstream(() => ({ kind: 'stall', chunks: ['one ', 'two '] }));
    const { client } = await gateway({ ...upstreamConfig([{ name: 'a', baseUrl: a.url }]), router: { timeoutMs: 200 } });
    const stream = (await ask(client, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>;
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('one two ');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('stopped sending');
  });

  it('spreads first attempts by weight', async () => {
    const a = await upstream(() => ({ kind: 'text', text: 'a' }));
    const b = await upstream(() => ({ kind: 'text', text: 'b' }));
    const { client } = await gateway(upstreamConfig([{ name: 'a', baseUrl: a.url, weight: 3 }, { name: 'b', baseUrl: b.url, weight: 1 }]));
    for (let i = 0; i < 80; i++) await ask(client);
    // Expected 60/20; bounds are ±4.5 standard deviations (sd ≈ 3.9), so a fair draw never fails.
    expect(a.requests.length).toBeGreaterThan(42);
    expect(b.requests.length).toBeGreaterThan(2);
  });

  it('translates to and from an Anthropic upstream, streaming and tool calls included', async () => {
    const anth = await startFakeAnthropic({
      handler: (req) =>
        req.body.tools
          ? { content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'x' } }] }
          : { content: [{ type: 'text', text: `system was: ${req.body.system}` }] },
    });
    closers.push(anth.close);
    const { client } = await gateway(upstreamConfig([{ name: 'claude', kind: 'anthropic', baseUrl: anth.url, model: 'claude-sonnet-4-5' }]));
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] });
    expect(res.choices[0]?.message.content).toBe('system was: be brief');
    expect(anth.requests.at(-1)?.body.model).toBe('claude-sonnet-4-5');

    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'system', content: 'terse' }, { role: 'user', content: 'hi' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('system was: terse');

    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
    const final = await client.chat.completions.stream({ model: 'm', tools, messages: [{ role: 'user', content: 'find x' }] }).finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: 'toolu_1', function: { name: 'lookup', arguments: '{"q":"x"}' } });
    expect(anth.requests.at(-1)?.body.tools[0]).toMatchObject({ name: 'lookup', input_schema: { type: 'object' } });
  });
});
