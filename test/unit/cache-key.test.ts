import { describe, expect, it } from 'vitest';
import { cacheKey, canonical } from '../../src/cache/key.js';
import { parseCacheControl } from '../../src/cache/policy.js';
import { replayChunks } from '../../src/cache/replay.js';
import type { ChatCompletion, ChatRequest } from '../../src/providers/types.js';

const body = (over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'm',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is the capital of France?' },
  ],
  temperature: 0,
  ...over,
});

function key(b: ChatRequest, memory = {}) {
  const k = cacheKey('m', b, memory, 2000);
  if ('skip' in k) throw new Error(k.skip);
  return k;
}

describe('cache key', () => {
  it('is the same for the same request written differently, and different for anything the model sees', () => {
    const base = key(body());
    expect(key({ temperature: 0, messages: body().messages, model: 'm' }).id).toBe(base.id);
    expect(key(body({ stream: true, stream_options: { include_usage: true } })).id).toBe(base.id);
    const spaced = body();
    spaced.messages[1] = { role: 'user', content: '  What is the capital\n of France? ' };
    expect(key(spaced).id).toBe(base.id);

    expect(key(body({ temperature: 0.5 })).id).not.toBe(base.id);
    expect(key(body({ tools: [{ type: 'function', function: { name: 'f' } }] })).scope).not.toBe(base.scope);
    expect(key(body({ response_format: { type: 'json_object' } })).scope).not.toBe(base.scope);
    expect(cacheKey('other', body(), {}, 2000)).not.toMatchObject({ scope: base.scope });
    const otherSystem = body();
    otherSystem.messages[0] = { role: 'system', content: 'Be verbose.' };
    expect(key(otherSystem).scope).not.toBe(base.scope);
    expect(key(body(), { sessionId: 's1' }).scope).not.toBe(base.scope);
    expect(key(body(), { userId: 'u1' }).scope).not.toBe(key(body(), { userId: 'u2' }).scope);
  });

  it('keeps the scope when only the last user message changes, and exposes it as the query', () => {
    const a = key(body());
    const b = body();
    b.messages[1] = { role: 'user', content: "What's France's capital city?" };
    const kb = key(b);
    expect(kb.scope).toBe(a.scope);
    expect(kb.id).not.toBe(a.id);
    expect(kb.query).toBe("What's France's capital city?");
    expect(kb.semantic).toBe(true);
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('looks up text-only messages semantically, up to the length limit; others exactly only', () => {
    const parts = key(body({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] }] }));
    expect(parts).toMatchObject({ query: 'Hello there', semantic: true });
    const image = key(body({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:,' } }] }] }));
    expect(image.semantic).toBe(false);
    const long = cacheKey('m', body({ messages: [{ role: 'user', content: 'x'.repeat(50) }] }), {}, 10);
    expect(long).toMatchObject({ semantic: false });
  });

  it('refuses requests whose answer depends on a tool result or that do not end with the user', () => {
    expect(cacheKey('m', body({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }), {}, 2000)).toEqual({ skip: 'the last message is not a user message' });
    const tool = body({
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c', content: 'rain' },
        { role: 'user', content: 'umbrella?' },
      ],
    });
    expect(cacheKey('m', tool, {}, 2000)).toEqual({ skip: 'the conversation holds tool results' });
  });

  it('serialises objects with sorted keys and drops undefined fields', () => {
    expect(canonical({ b: 1, a: [{ d: 2, c: undefined }, null] })).toBe('{"a":[{"d":2},null],"b":1}');
  });
});

describe('Cache-Control', () => {
  it('reads no-cache, no-store and max-age, ignoring the rest', () => {
    expect(parseCacheControl(undefined)).toEqual({ noCache: false, noStore: false });
    expect(parseCacheControl('No-Cache, max-age=30')).toEqual({ noCache: true, noStore: false, maxAgeSeconds: 30 });
    expect(parseCacheControl(['no-store', 'private'])).toEqual({ noCache: false, noStore: true });
    expect(parseCacheControl('max-age=-1, max-age=abc')).toEqual({ noCache: false, noStore: false });
  });
});

describe('replayed stream', () => {
  it('is a role chunk, content in pieces that join to the answer, one finish chunk, and usage when asked', () => {
    const text = 'word '.repeat(40).trim();
    const completion: ChatCompletion = { id: 'c1', object: 'chat.completion', created: 1, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'length' }] };
    const chunks = replayChunks(completion, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }).map((c) => JSON.parse(c));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.slice(1, -2);
    expect(content.length).toBeGreaterThan(2);
    expect(content.map((c) => c.choices[0].delta.content).join('')).toBe(text);
    expect(chunks.at(-2).choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'length' });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 0 } });
    for (const c of chunks) expect(c).toMatchObject({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt' });
    expect(replayChunks(completion, undefined).map((c) => JSON.parse(c)).at(-1).choices[0].finish_reason).toBe('length');
  });
});
