import { describe, expect, it } from 'vitest';
import { createSseParser } from '../../src/providers/sse.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('SSE parser', () => {
  it('returns the events each read completes, with names, joined data lines and no comments', () => {
    const p = createSseParser();
    expect(p.feed(bytes(': keep-alive comment\n\nevent: message_start\ndata: {"a":1}\n\ndata: line one\ndata: line two\n\n'))).toEqual([
      { event: 'message_start', data: '{"a":1}' },
      { event: undefined, data: 'line one\nline two' },
    ]);
  });

  it('handles CRLF, events split across reads and multi-byte characters split mid-byte', () => {
    const p = createSseParser();
    const text = bytes('data: héllo 🚀\r\n\r\ndata: [DONE]\r\n\r\n');
    const cut = text.indexOf(0xf0) + 2; // inside the 4-byte emoji
    const first = p.feed(text.slice(0, cut));
    expect(first).toEqual([]);
    expect(p.feed(text.slice(cut))).toEqual([
      { event: undefined, data: 'héllo 🚀' },
      { event: undefined, data: '[DONE]' },
    ]);
  });

  it('yields a final event that lacks the closing blank line at end of stream', () => {
    const p = createSseParser();
    expect(p.feed(bytes('data:no-space\n'))).toEqual([]);
    expect(p.end()).toEqual([{ event: undefined, data: 'no-space' }]);
  });

  it('splits byte-by-byte input the same as whole input', () => {
    const text = bytes('event: x\ndata: 1\n\ndata: 2\r\n\r\n');
    const whole = createSseParser().feed(text);
    const p = createSseParser();
    const pieces = Array.from(text).flatMap((b) => p.feed(Uint8Array.of(b)));
    expect(pieces).toEqual(whole);
    expect(whole).toHaveLength(2);
  });
});
