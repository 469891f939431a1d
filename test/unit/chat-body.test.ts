import { describe, expect, it } from 'vitest';
import { replayMessage, type Turn } from '../../src/memory/turns.js';
import { chatBody } from '../../src/providers/openai-compatible/body.js';
import type { ChatMessage, ChatRequest } from '../../src/providers/types.js';

const parse = (b: Buffer): unknown => JSON.parse(b.toString('utf8'));
const turn = (seq: number, content: string): Turn => ({
  seq,
  role: seq % 2 ? 'user' : 'assistant',
  content,
  fields: null,
  tokenCount: 5,
  tokenEncoding: 'o200k_base',
  externalId: null,
  createdAt: '2026-01-01T00:00:00.000Z',
});

describe('chatBody (the upstream body, replayed history reused between requests)', () => {
  it('is the same JSON value as JSON.stringify, with and without other fields', () => {
    const bodies: ChatRequest[] = [
      { model: 'm', messages: [{ role: 'user', content: 'hi "there"\n' }] },
      { model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'x' }] }], temperature: 0.2, stream: true, tools: [] },
      { messages: [] } as unknown as ChatRequest,
    ];
    for (const body of bodies) expect(parse(chatBody(body))).toEqual(JSON.parse(JSON.stringify(body)));
  });

  it('stays exact as a session grows, is trimmed from the front, and shares turns with another session', () => {
    // Multi-byte text makes byte offsets differ from string offsets.
    const turns = Array.from({ length: 60 }, (_, i) => turn(i + 1, `turn ${i + 1} — café 😀 "q" \\`));
    const other = Array.from({ length: 5 }, (_, i) => turn(i + 100, `other ${i}`));
    const check = (history: Turn[], system: boolean): void => {
      const messages: ChatMessage[] = [
        ...(system ? [{ role: 'system' as const, content: `fresh system ${history.length}` }] : []),
        ...history.map(replayMessage),
        { role: 'user', content: `new ${history.length} ü` },
      ];
      const body: ChatRequest = { model: 'gpt', messages, temperature: 0 };
      expect(parse(chatBody(body))).toEqual(JSON.parse(JSON.stringify(body)));
    };
    for (let n = 0; n <= 40; n += 2) check(turns.slice(0, n), n % 4 === 0);
    // Older turns dropped from the window: the run starts later.
    for (let from = 1; from <= 20; from += 3) check(turns.slice(from, 40 + from), from % 2 === 0);
    // The same turns after a gap, in another order, mixed with another session's turns.
    check([...turns.slice(0, 10), ...other, ...turns.slice(10, 12)], true);
    check([...turns.slice(0, 5), ...turns.slice(30, 35)], false);
    check(turns.slice(0, 10).reverse(), false);
    check(turns.slice(0, 40), true);
  });

  it('stays exact while a long session window slides past the point where its run is compacted', () => {
    const turns = Array.from({ length: 400 }, (_, i) => turn(i + 1, i % 7 === 0 ? `ü ${i} 😀` : `t${i}`));
    for (let n = 2; n <= 400; n += 2) {
      const body: ChatRequest = { model: 'm', messages: [...turns.slice(Math.max(0, n - 100), n).map(replayMessage), { role: 'user', content: 'next' }] };
      expect(parse(chatBody(body))).toEqual(JSON.parse(JSON.stringify(body)));
    }
  });
});
