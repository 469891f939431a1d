import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { type AnthropicResponse, fromAnthropicResponse } from '../../src/providers/anthropic/response.js';
import { translateStream } from '../../src/providers/anthropic/stream.js';
import type { SseEvent } from '../../src/providers/sse.js';
import type { ChatChunk, ChatRequest } from '../../src/providers/types.js';

const req = (over: Partial<ChatRequest>): ChatRequest => ({ model: 'claude-test', messages: [{ role: 'user', content: 'hi' }], ...over });

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('toAnthropicRequest', () => {
  it('moves system and developer messages to the top-level system prompt', () => {
    const one = toAnthropicRequest(req({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }] }));
    expect(one.system).toBe('Be brief.');
    expect(one.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
    const two = toAnthropicRequest(
      req({
        messages: [
          { role: 'system', content: 'A' },
          { role: 'user', content: 'hi' },
          { role: 'developer', content: [{ type: 'text', text: 'B' }] },
        ],
      }),
    );
    expect(two.system).toEqual([{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }]);
  });

  it('maps sampling fields, defaults max_tokens and omits absent ones', () => {
    const out = toAnthropicRequest(req({ temperature: 0.2, top_p: 0.9, stop: 'END', user: 'u1', stream: true, max_completion_tokens: 50, max_tokens: 10 }));
    expect(out).toMatchObject({ temperature: 0.2, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'u1' }, stream: true, max_tokens: 50 });
    const bare = toAnthropicRequest(req({}));
    expect(bare.max_tokens).toBe(4096);
    expect(Object.keys(bare).sort()).toEqual(['max_tokens', 'messages', 'model']);
  });

  it('translates assistant tool calls and merges consecutive tool results into one user turn', () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'wx', arguments: '{"city":"Oslo"}' } },
              { id: 'c2', type: 'function', function: { name: 'wx', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'cold' },
          { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'warm' }] },
          { role: 'user', content: 'thanks' },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'c1', name: 'wx', input: { city: 'Oslo' } },
          { type: 'tool_use', id: 'c2', name: 'wx', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'c1', content: [{ type: 'text', text: 'cold' }] },
          { type: 'tool_result', tool_use_id: 'c2', content: [{ type: 'text', text: 'warm' }] },
          { type: 'text', text: 'thanks' },
        ],
      },
    ]);
  });

  it('rejects invalid tool-call JSON naming the param, and n > 1', () => {
    const bad = thrown(() =>
      toAnthropicRequest(
        req({ messages: [{ role: 'assistant', content: '', tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }),
      ),
    );
    expect(bad).toMatchObject({ status: 400, category: 'client', param: 'messages[0].tool_calls[0].function.arguments' });
    expect(thrown(() => toAnthropicRequest(req({ n: 2 })))).toMatchObject({ status: 400, param: 'n' });
  });

  it('translates data: and http image URLs', () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      }),
    );
    expect(out.messages[0]?.content).toEqual([
      { type: 'text', text: 'look' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    const bad = thrown(() => toAnthropicRequest(req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] }] })));
    expect(bad.param).toBe('messages[0].content[0].image_url.url');
  });

  it('maps tools, tool_choice and parallel_tool_calls', () => {
    const tools = [{ type: 'function' as const, function: { name: 'wx', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const out = toAnthropicRequest(req({ tools, tool_choice: 'required', parallel_tool_calls: false }));
    expect(out.tools).toEqual([{ name: 'wx', description: 'Weather', input_schema: tools[0]?.function.parameters }]);
    expect(out.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(toAnthropicRequest(req({ tools, tool_choice: 'none' })).tool_choice).toEqual({ type: 'none' });
    expect(toAnthropicRequest(req({ tools, tool_choice: { type: 'function', function: { name: 'wx' } } })).tool_choice).toEqual({ type: 'tool', name: 'wx' });
    expect(toAnthropicRequest(req({ tools })).tool_choice).toBeUndefined();
  });

  it('turns response_format into a system instruction carrying the schema', () => {
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    const out = toAnthropicRequest(
      req({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } }),
    );
    expect(Array.isArray(out.system)).toBe(true);
    const last = (out.system as Array<{ text: string }>)[1]?.text ?? '';
    expect(last).toContain('JSON');
    expect(last).toContain(JSON.stringify(schema));
    expect(toAnthropicRequest(req({ response_format: { type: 'json_object' } })).system).toMatch(/JSON object/);
  });
});

const message = (over: Partial<AnthropicResponse>): AnthropicResponse => ({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-upstream',
  content: [],
  stop_reason: 'end_turn',
  usage: { input_tokens: 10, output_tokens: 5 },
  ...over,
});

describe('fromAnthropicResponse', () => {
  it('joins text, maps usage with cache tokens and stop reasons', () => {
    const out = fromAnthropicResponse(
      message({ content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }], usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 } }),
      'my-model',
      1,
    );
    expect(out).toMatchObject({ id: 'msg_1', object: 'chat.completion', created: 1, model: 'my-model' });
    expect(out.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' });
    expect(out.usage).toMatchObject({ prompt_tokens: 15, completion_tokens: 5, total_tokens: 20, prompt_tokens_details: { cached_tokens: 3 } });
    const finish = (stop_reason: string) => fromAnthropicResponse(message({ stop_reason }), 'm').choices[0]?.finish_reason;
    expect([finish('stop_sequence'), finish('max_tokens'), finish('tool_use'), finish('refusal')]).toEqual(['stop', 'length', 'tool_calls', 'content_filter']);
  });

  it('turns tool_use blocks into tool_calls with null content', () => {
    const out = fromAnthropicResponse(message({ stop_reason: 'tool_use', content: [{ type: 'tool_use', id: 'toolu_1', name: 'wx', input: { city: 'Oslo' } }] }), 'm');
    expect(out.choices[0]?.message).toMatchObject({
      content: null,
      tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'wx', arguments: '{"city":"Oslo"}' } }],
    });
    expect(out.choices[0]?.finish_reason).toBe('tool_calls');
  });
});

async function* sse(...events: Array<Record<string, unknown>>): AsyncGenerator<SseEvent> {
  for (const e of events) yield { event: String(e.type), data: JSON.stringify(e) };
}
async function collect(stream: AsyncIterable<string>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const s of stream) out.push(JSON.parse(s) as ChatChunk);
  return out;
}
const start = { type: 'message_start', message: { id: 'msg_s', usage: { input_tokens: 9, output_tokens: 1 } } };
const end = (stop_reason: string) => [
  { type: 'message_delta', delta: { stop_reason }, usage: { output_tokens: 4 } },
  { type: 'message_stop' },
];

describe('translateStream', () => {
  it('translates text deltas, the finish reason and the usage chunk', async () => {
    const chunks = await collect(
      translateStream(
        sse(start, { type: 'ping' }, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi ' } }, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'there' } }, { type: 'content_block_stop', index: 0 }, ...end('end_turn')),
        'm',
        { includeUsage: true },
      ),
    );
    expect(chunks.every((c) => c.id === 'msg_s' && c.model === 'm')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hi ' }, { content: 'there' }, {}, undefined]);
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks[4]).toMatchObject({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } });
  });

  it('translates tool_use blocks with input_json_delta, indexing tool calls apart from text', async () => {
    const chunks = await collect(
      translateStream(
        sse(
          start,
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
          { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'wx', input: {} } },
          { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
          { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
          { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Oslo"}' } },
          ...end('tool_use'),
        ),
        'm',
      ),
    );
    const deltas = chunks.map((c) => c.choices[0]?.delta);
    expect(deltas.slice(2)).toEqual([
      { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'wx', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
      {},
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('throws a GatewayError on an error event', async () => {
    const overloaded = collect(translateStream(sse(start, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }), 'm'));
    await expect(overloaded).rejects.toMatchObject({ status: 502, category: 'upstream', code: 'upstream_rate_limited' });
    const api = collect(translateStream(sse(start, { type: 'error', error: { type: 'api_error', message: 'boom' } }), 'm'));
    await expect(api).rejects.toMatchObject({ status: 502, code: 'upstream_server_error' });
    await expect(collect(translateStream(sse(start), 'm'))).rejects.toMatchObject({ code: 'upstream_bad_response' });
  });
});
