import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// The official openai SDK talks to the gateway, which talks to a fake upstream on port 0.
describe('POST /v1/chat/completions through the gateway', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;

  beforeAll(async () => {
    up = await startFakeOpenAi((req) => {
      const last = req.body.messages.at(-1)?.content;
      if (last === 'cut after done') return { kind: 'cut', text: 'all of it arrived' };
      if (last === 'weather?') return { kind: 'tool_calls', calls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] };
      return { kind: 'text', text: `You said: ${typeof last === 'string' ? last : 'parts'}` };
    });
    gw = await startGateway({ config: upstreamConfig([{ name: 'up', baseUrl: up.url, model: 'gpt-4o-mini' }], 'fast') });
    t = await gw.tenant();
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  it('answers a JSON request and sends the target model upstream', async () => {
    const res = await t.client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'hello there' }] });
    expect(res.choices[0]?.message.content).toBe('You said: hello there');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    const sent = up.requests.at(-1)?.body;
    expect(sent.model).toBe('gpt-4o-mini');
    expect(sent.session_id).toBeUndefined();
    expect(up.requests.at(-1)?.headers.authorization).toBe('Bearer sk-secret-up-0123456789');
  });

  it('streams chunks that the SDK reassembles, ending with [DONE]', async () => {
    const stream = await t.client.chat.completions.create({ model: 'fast', stream: true, messages: [{ role: 'user', content: 'stream me please' }] });
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('You said: stream me please');
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
  });

  it('sends the whole answer before the error when the upstream drops its connection after [DONE]', async () => {
    // The last batch goes out with [DONE] in one write; a failure in between must not lose it.
    const stream = await t.client.chat.completions.create({ model: 'fast', stream: true, messages: [{ role: 'user', content: 'cut after done' }] });
    let text = '';
    let finish: string | null = null;
    let failed: unknown;
    try {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } catch (err) {
      failed = err;
    }
    expect(text).toBe('all of it arrived');
    expect(finish).toBe('stop');
    expect(failed).toBeInstanceOf(Error);
  });

  it('passes tools, tool_choice and response_format through and returns tool calls (JSON and stream)', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const res = await t.client.chat.completions.create({ model: 'fast', tools, tool_choice: 'auto', messages: [{ role: 'user', content: 'weather?' }] });
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(res.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(up.requests.at(-1)?.body.tools).toEqual(tools);
    expect(up.requests.at(-1)?.body.tool_choice).toBe('auto');

    const stream = t.client.chat.completions.stream({ model: 'fast', tools, messages: [{ role: 'user', content: 'weather?' }] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls?.[0]?.function).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });

    await t.client.chat.completions.create({
      model: 'fast',
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      messages: [{ role: 'user', content: 'json please' }],
    });
    expect(up.requests.at(-1)?.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } });
  });

  it('lists the configured aliases on GET /v1/models', async () => {
    const models = await t.client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['fast']);
    const one = await gw.call('GET', '/v1/models/nope', { key: t.key });
    expect(one.status).toBe(404);
  });

  it('routes provider/model to a configured provider without an alias', async () => {
    await t.client.chat.completions.create({ model: 'up/gpt-4.1-nano', messages: [{ role: 'user', content: 'direct' }] });
    expect(up.requests.at(-1)?.body.model).toBe('gpt-4.1-nano');
  });

  it('echoes a sane client request id and makes one otherwise', async () => {
    const mine = await gw.call('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    const bad = await gw.call('GET', '/healthz', { headers: { 'x-request-id': 'has spaces and <tags>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
