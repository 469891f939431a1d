import { transportError } from './http.js';

/** One server-sent event: the `event:` name (if any) and its joined `data:` lines. */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/**
 * Splits a byte stream into server-sent events (the WHATWG framing: blank line ends an event,
 * `data:` lines join with `\n`, comments ignored). Tolerates CRLF and chunk boundaries anywhere,
 * including inside a multi-byte character.
 */
export async function* parseSse(body: AsyncIterable<Buffer | Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event: string | undefined;
  let data: string[] = [];
  try {
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (data.length > 0) yield { event, data: data.join('\n') };
          event = undefined;
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
        } else if (line.startsWith('event:')) {
          event = line.slice(6).trim();
        }
        nl = buffer.indexOf('\n');
      }
    }
  } catch (err) {
    throw transportError(err, signal);
  }
  if (data.length > 0) yield { event, data: data.join('\n') };
}
