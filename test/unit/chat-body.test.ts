import { describe, expect, it } from 'vitest';
import { replayMessage } from '../../src/memory/turns.js';
import { chatBodyJson } from '../../src/providers/openai-compatible/provider.js';
import type { ChatRequest } from '../../src/providers/types.js';

describe('chatBodyJson (the upstream body, replayed messages serialised once)', () => {
  it('is the same JSON value as JSON.stringify, with and without other fields', () => {
    const bodies: ChatRequest[] = [
      { model: 'm', messages: [{ role: 'user', content: 'hi "there"\n' }] },
      { model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'x' }] }], temperature: 0.2, stream: true, tools: [] },
      { messages: [] } as unknown as ChatRequest,
    ];
    for (const body of bodies) expect(JSON.parse(chatBodyJson(body))).toEqual(JSON.parse(JSON.stringify(body)));
  });

  it('reuses a shared message object, and serialises each new one afresh', () => {
    const turn = { seq: 1, role: 'assistant' as const, content: 'an answer', fields: null, tokenCount: 5, tokenEncoding: 'o200k_base' as const, externalId: null, createdAt: '2026-01-01T00:00:00.000Z' };
    const replayed = replayMessage(turn);
    expect(replayMessage(turn)).toBe(replayed);
    const first = chatBodyJson({ model: 'm', messages: [replayed, { role: 'user', content: 'one' }] });
    const second = chatBodyJson({ model: 'm', messages: [replayed, { role: 'user', content: 'two' }] });
    expect(JSON.parse(first).messages).toEqual([{ role: 'assistant', content: 'an answer' }, { role: 'user', content: 'one' }]);
    expect(JSON.parse(second).messages).toEqual([{ role: 'assistant', content: 'an answer' }, { role: 'user', content: 'two' }]);
  });
});
