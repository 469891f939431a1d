import { describe, expect, it, vi } from 'vitest';
import { createStreamAccumulator, plainDeltaContent } from '../../src/chat/accumulate.js';

const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
  JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });

describe('stream accumulator', () => {
  it('rebuilds content and tool calls from chunks', () => {
    const acc = createStreamAccumulator();
    acc.add(chunk({ role: 'assistant', content: '' }));
    acc.add(chunk({ content: 'Hel' }));
    acc.add(chunk({ content: 'lo' }));
    acc.add(chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }));
    acc.add(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }));
    acc.add(chunk({}, 'tool_calls'));
    expect(acc.message()).toEqual({ role: 'assistant', content: 'Hello', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] });
    expect(acc.finishReason()).toBe('tool_calls');
    expect(acc.text()).toBe('Hello');
  });

  it('finds the usage of the final chunk, and sees chunks added after a first read', () => {
    const acc = createStreamAccumulator();
    acc.add(chunk({ content: 'a' }, null, { usage: null }));
    expect(acc.usage()).toBeUndefined();
    expect(acc.text()).toBe('a');
    acc.add(chunk({ content: 'b' }, 'stop', { usage: null }));
    acc.add(JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
    expect(acc.usage()).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    expect(acc.message().content).toBe('ab');
    expect(acc.text()).toBe('ab');
    expect(acc.completion()).toMatchObject({ id: 'x', choices: [{ message: { content: 'ab' }, finish_reason: 'stop' }], usage: { total_tokens: 5 } });
  });
});

describe('plainDeltaContent', () => {
  // Deterministic pseudo-random chunks of every shape an upstream sends, in compact and spaced JSON.
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pieces = ['a', ' ', '"', '\\', '\\"', '"content":"x"', ',"index":1', '{', '}', 'é', '😀', '\n', '\\\\"', '"index":0', ' tok '];
  const text = (): string => Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]).join('');
  function randomChunk(): object {
    const shapes = [
      () => ({ choices: [{ index: 0, delta: { content: text() }, finish_reason: null }] }),
      () => ({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
      () => ({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
      () => ({ choices: [{ index: 0, delta: { content: null, tool_calls: [{ index: 0, function: { arguments: text() } }] } }] }),
      () => ({ choices: [{ index: 1, delta: { content: text() } }, { index: 0, delta: { content: text() } }] }),
      () => ({ choices: [{ index: 2, delta: { content: text() } }] }),
      () => ({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }),
      () => ({ choices: [{ index: 0, delta: { content: text() }, logprobs: { content: [{ token: text(), logprob: -1 }] } }] }),
      () => ({ choices: [{ index: 0, delta: { content: [{ type: 'text', text: text() }] } }] }),
      () => ({ note: text(), choices: [{ index: 0, delta: { content: text() }, finish_reason: null }], usage: null }),
    ];
    return { id: `c${rand(100)}`, object: 'chat.completion.chunk', model: text(), ...(shapes[rand(shapes.length)] as () => object)() };
  }
  const expected = (data: string): string => {
    const c = JSON.parse(data) as { choices?: { index: number; delta?: { content?: unknown } }[] };
    const content = c.choices?.find((x) => x.index === 0)?.delta?.content;
    return typeof content === 'string' ? content : '';
  };

  it('reads exactly what parsing reads, or declines', () => {
    let read = 0;
    for (let i = 0; i < 5000; i++) {
      const obj = randomChunk();
      for (const data of [JSON.stringify(obj), JSON.stringify(obj, null, rand(3))]) {
        const fast = plainDeltaContent(data);
        if (fast === undefined) continue;
        read++;
        expect(fast, data).toBe(expected(data));
      }
    }
    // The common shapes are read without parsing (the property would hold trivially if it always declined).
    expect(read).toBeGreaterThan(3000);
  });

  it('declines content that is not a string, and a second choice', () => {
    expect(plainDeltaContent(chunk({ content: [{ type: 'text', text: 'x' }] }))).toBeUndefined();
    expect(plainDeltaContent(JSON.stringify({ choices: [{ index: 0, delta: { content: 'a' } }, { index: 1, delta: { content: 'b' } }] }))).toBeUndefined();
    expect(plainDeltaContent(chunk({ content: 'say \\"hi\\" \\\\' }))).toBe('say \\"hi\\" \\\\');
  });

  it('builds the same message without parsing as with, for random streams', () => {
    for (let i = 0; i < 2000; i++) {
      const fast = createStreamAccumulator();
      const parsed = createStreamAccumulator();
      for (let n = 1 + rand(6); n > 0; n--) {
        const data = JSON.stringify(randomChunk(), null, rand(2));
        fast.add(data);
        parsed.add(data);
      }
      parsed.finishReason(); // parses every chunk: message() then reads the parsed copy
      expect(fast.message()).toEqual(parsed.message());
    }
  });

  it('reads a text-only answer without parsing its chunks', () => {
    const acc = createStreamAccumulator();
    for (const piece of ['Hel', 'lo, wörld', '']) acc.add(chunk({ content: piece }));
    acc.add(chunk({}, 'stop'));
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(acc.message()).toEqual({ role: 'assistant', content: 'Hello, wörld' });
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  it('gives the same text as the parsed message for a whole stream', () => {
    const acc = createStreamAccumulator();
    for (const piece of ['He said "', 'x\\', '"content":"y"', ' 😀']) acc.add(chunk({ content: piece }));
    acc.add(chunk({ tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }));
    expect(acc.text()).toBe('He said "x\\"content":"y" 😀');
    expect(acc.text()).toBe(acc.message().content);
  });
});
