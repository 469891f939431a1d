import type { CancelSignal } from './cancel.js';
import { transportError } from './http.js';

/** One server-sent event: the `event:` name (if any) and its joined `data:` lines. */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/**
 * A push parser for server-sent events (the WHATWG framing: a blank line ends an event, `data:`
 * lines join with `\n`, comments are ignored). `feed` returns the events a network read completed,
 * synchronously: one await per read rather than per event keeps streaming cheap. Tolerates CRLF
 * and chunk boundaries anywhere, including inside a multi-byte character.
 */
export function createSseParser() {
  const decoder = new TextDecoder();
  let buffer = '';
  let event: string | undefined;
  let data: string[] = [];

  function lines(out: SseEvent[]): SseEvent[] {
    let start = 0;
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const end = nl > start && buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end === start) {
        if (data.length > 0) out.push({ event, data: data.length === 1 ? (data[0] as string) : data.join('\n') });
        event = undefined;
        data = [];
      } else if (buffer.startsWith('data:', start)) {
        data.push(buffer.slice(buffer.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end));
      } else if (buffer.startsWith('event:', start)) {
        event = buffer.slice(start + 6, end).trim();
      }
      start = nl + 1;
      nl = buffer.indexOf('\n', start);
    }
    buffer = buffer.slice(start);
    return out;
  }

  return {
    feed(chunk: Uint8Array): SseEvent[] {
      buffer += decoder.decode(chunk, { stream: true });
      return lines([]);
    },
    /** Events left when the stream ends without a final blank line. */
    end(): SseEvent[] {
      buffer += `${decoder.decode()}\n\n`;
      return lines([]);
    },
  };
}

/** The parser as an async generator of single events (for adapters that translate event by event). */
export async function* parseSse(body: AsyncIterable<Buffer | Uint8Array>, signal?: CancelSignal): AsyncGenerator<SseEvent> {
  const parser = createSseParser();
  try {
    for await (const chunk of body) yield* parser.feed(chunk);
  } catch (err) {
    throw transportError(err, signal);
  }
  yield* parser.end();
}
