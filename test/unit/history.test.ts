import { describe, expect, it } from 'vitest';
import { createStreamAccumulator } from '../../src/chat/accumulate.js';
import { fitHistory } from '../../src/context/history.js';
import { toNewTurn, type Turn } from '../../src/memory/turns.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';

const tok = getTokenizer('cl100k_base');
const turn = (seq: number, m: ChatMessage): Turn => ({ ...toNewTurn(m, tok), seq, createdAt: new Date(0).toISOString() });

describe('fitHistory', () => {
  const turns = [
    turn(1, { role: 'user', content: 'one two three' }),
    turn(2, { role: 'assistant', content: 'four five six' }),
    turn(3, { role: 'user', content: 'seven eight nine' }),
    turn(4, { role: 'assistant', content: 'ten eleven twelve' }),
  ];
  const cost = (t: Turn) => t.tokenCount;

  it('keeps the newest turns that fit, oldest first, and counts them exactly', () => {
    const budget = cost(turns[3] as Turn) + cost(turns[2] as Turn);
    const fitted = fitHistory(turns, tok, budget);
    expect(fitted.messages.map((m) => m.content)).toEqual(['seven eight nine', 'ten eleven twelve']);
    expect(fitted.tokens).toBe(budget);
    expect(fitted.fromSeq).toBe(3);
    expect(fitHistory(turns, tok, budget - 1).messages).toHaveLength(1);
    expect(fitHistory(turns, tok, 0).messages).toHaveLength(0);
    expect(fitHistory(turns, tok, 10_000).messages).toHaveLength(4);
  });

  it('never starts with a tool result whose call was cut off', () => {
    const withTool = [
      turn(1, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      turn(2, { role: 'tool', tool_call_id: 'c', content: 'result' }),
      turn(3, { role: 'user', content: 'ok' }),
    ];
    const budget = (withTool[1] as Turn).tokenCount + (withTool[2] as Turn).tokenCount;
    const fitted = fitHistory(withTool, tok, budget);
    expect(fitted.messages.map((m) => m.role)).toEqual(['user']);
    expect(fitted.tokens).toBe((withTool[2] as Turn).tokenCount);
  });

  it('recounts turns stored with another encoding', () => {
    const o200 = { ...(turns[0] as Turn), tokenEncoding: 'o200k_base' as const, tokenCount: 999 };
    expect(fitHistory([o200], tok, 100).tokens).toBe(tok.countMessage({ role: 'user', content: 'one two three' }));
  });
});

describe('stream accumulator', () => {
  it('rebuilds content and tool calls from chunks', () => {
    const acc = createStreamAccumulator();
    const chunk = (delta: object, finish: string | null = null) => JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
    acc.add(chunk({ role: 'assistant', content: '' }));
    acc.add(chunk({ content: 'Hel' }));
    acc.add(chunk({ content: 'lo' }));
    acc.add(chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }));
    acc.add(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }));
    acc.add(chunk({}, 'tool_calls'));
    expect(acc.message()).toEqual({ role: 'assistant', content: 'Hello', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] });
    expect(acc.finishReason()).toBe('tool_calls');
  });
});
