import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic/provider.js';
import type { ChatChunk, ChatRequest, ChunkStream } from '../../src/providers/types.js';
import { type FakeAnthropic, type FakeAnthropicOptions, startFakeAnthropic } from '../helpers/fake-anthropic.js';

const API_KEY = 'sk-ant-test-0123456789abcdef';
let fake: FakeAnthropic | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(opts: FakeAnthropicOptions = {}) {
  fake = await startFakeAnthropic(opts);
  return { fake, provider: createAnthropicProvider({ baseUrl: fake.url, apiKey: API_KEY, headers: { 'anthropic-beta': 'test-beta' } }) };
}

const call = (body: Partial<ChatRequest>) => ({
  body: { model: 'claude-test', messages: [{ role: 'user' as const, content: 'Hi' }], ...body },
  signal: AbortSignal.timeout(5_000),
});

async function collect(stream: ChunkStream): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const batch of stream) for (const s of batch) out.push(JSON.parse(s) as ChatChunk);
  return out;
}

const weather = { content: [{ type: 'text' as const, text: 'Let me check.' }, { type: 'tool_use' as const, name: 'get_weather', input: { city: 'Oslo', units: 'metric' } }] };

describe('anthropic provider against the fake Messages API', () => {
  it('completes text and sends the translated request with the right headers', async () => {
    const { fake, provider } = await setup({ handler: () => ({ content: [{ type: 'text', text: 'Hello there.' }], usage: { input_tokens: 20, output_tokens: 3 } }) });
    const out = await provider.complete(call({ messages: [{ role: 'system', content: 'Be nice.' }, { role: 'user', content: 'Hi' }], stream: true }));
    expect(provider.kind).toBe('anthropic');
    expect(out.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Hello there.' }, finish_reason: 'stop' });
    expect(out.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 3, total_tokens: 23 });
    const [req] = fake.requests;
    expect(req?.headers).toMatchObject({ 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'test-beta' });
    expect(req?.body).toMatchObject({ model: 'claude-test', system: 'Be nice.', max_tokens: 4096, stream: false });
  });

  it('completes tool calls', async () => {
    const { provider } = await setup({ handler: () => weather });
    const out = await provider.complete(call({ tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] }));
    expect(out.choices[0]?.finish_reason).toBe('tool_calls');
    const toolCall = out.choices[0]?.message.tool_calls?.[0];
    expect(toolCall?.function.name).toBe('get_weather');
    expect(JSON.parse(toolCall?.function.arguments ?? '')).toEqual({ city: 'Oslo', units: 'metric' });
  });

  it('streams text with a final usage chunk when include_usage is asked', async () => {
    const { fake, provider } = await setup({ handler: () => ({ content: [{ type: 'text', text: 'One two three.' }], usage: { input_tokens: 5, output_tokens: 4 } }) });
    const chunks = await collect(await provider.stream(call({ stream: true, stream_options: { include_usage: true } })));
    expect(fake.requests[0]?.body.stream).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('One two three.');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } });
  });

  it('keeps the usage for the gateway, out of what the client is sent, when include_usage is not asked', async () => {
    const { provider } = await setup({ handler: () => ({ content: [{ type: 'text', text: 'One two.' }], usage: { input_tokens: 7, output_tokens: 2 } }) });
    const hidden: string[] = [];
    const sent: ChatChunk[] = [];
    for await (const batch of await provider.stream(call({ stream: true }))) {
      if (batch.usage) hidden.push(batch.usage);
      for (const s of batch) sent.push(JSON.parse(s) as ChatChunk);
    }
    expect(sent.some((c) => c.usage)).toBe(false);
    expect(sent.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(hidden.map((h) => JSON.parse(h))).toEqual([expect.objectContaining({ choices: [], usage: expect.objectContaining({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 }) })]);
  });

  it('streams tool calls whose argument deltas join into the input', async () => {
    const { provider } = await setup({ handler: () => weather });
    const chunks = await collect(await provider.stream(call({ stream: true })));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: 'toolu_fake_1', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual({ city: 'Oslo', units: 'metric' });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('fails a stream on a mid-stream error event', async () => {
    const { provider } = await setup({ handler: () => ({ content: [{ type: 'text', text: 'partial' }], streamError: { type: 'overloaded_error', message: 'Overloaded' } }) });
    const stream = await provider.stream(call({ stream: true }));
    await expect(collect(stream)).rejects.toMatchObject({ status: 502, code: 'upstream_rate_limited', category: 'upstream' });
  });

  it.each([
    [429, 'upstream_rate_limited', 429],
    [500, 'upstream_server_error', 502],
    [529, 'upstream_server_error', 502],
    [400, 'upstream_rejected', 400],
  ])('maps status %i to %s', async (status, code, gatewayStatus) => {
    const { provider } = await setup({ handler: () => ({ status, headers: { 'retry-after': '7' } }) });
    await expect(provider.complete(call({}))).rejects.toMatchObject({ code, status: gatewayStatus, category: 'upstream' });
    await expect(provider.stream(call({ stream: true }))).rejects.toMatchObject({ code, status: gatewayStatus });
  });

  it('keeps the upstream message of a 400 and the retry-after of a 429', async () => {
    const { provider } = await setup({
      handler: (req) =>
        req.body.temperature === 9
          ? { status: 400, error: { type: 'invalid_request_error', message: 'temperature: must be <= 1' } }
          : { status: 429, headers: { 'retry-after': '7' } },
    });
    await expect(provider.complete(call({ temperature: 9 }))).rejects.toThrow(/temperature: must be <= 1/);
    await expect(provider.complete(call({}))).rejects.toMatchObject({ retryAfter: 7 });
  });

  it('never leaks the API key an upstream echoes back', async () => {
    const { provider } = await setup({ handler: () => ({ status: 401, error: { type: 'authentication_error', message: `invalid x-api-key ${API_KEY}` } }) });
    const err = await provider.complete(call({})).catch((e: Error) => e);
    expect(err).toMatchObject({ status: 502, code: 'upstream_rejected' });
    expect(JSON.stringify({ message: (err as Error).message, err })).not.toContain(API_KEY);
  });
});

describe('the fake speaks the real wire format (official SDK as client)', () => {
  const sdk = (url: string) => new Anthropic({ baseURL: url, apiKey: 'test', maxRetries: 0 });

  it('parses JSON messages with text and tool_use', async () => {
    fake = await startFakeAnthropic({ handler: () => weather });
    const msg = await sdk(fake.url).messages.create({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }] });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content).toMatchObject([{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', name: 'get_weather', input: { city: 'Oslo', units: 'metric' } }]);
    expect(fake.requests[0]?.headers['x-api-key']).toBe('test');
  });

  it('accumulates the SSE stream into the final message', async () => {
    fake = await startFakeAnthropic({ handler: () => ({ ...weather, usage: { input_tokens: 8, output_tokens: 6 } }) });
    const stream = sdk(fake.url).messages.stream({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const msg = await stream.finalMessage();
    expect(texts.join('')).toBe('Let me check.');
    expect(msg.content).toMatchObject([{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_fake_1', input: { city: 'Oslo', units: 'metric' } }]);
    expect(msg).toMatchObject({ stop_reason: 'tool_use', usage: { input_tokens: 8, output_tokens: 6 } });
  });

  it('surfaces error statuses as SDK errors', async () => {
    fake = await startFakeAnthropic({ handler: () => ({ status: 429 }) });
    const err = await sdk(fake.url).messages.create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
  });
});
