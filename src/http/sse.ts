import type { ServerResponse } from 'node:http';
import { type GatewayError, toEnvelope } from '../errors.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Tells nginx-style proxies in front of the gateway not to buffer the stream.
  'x-accel-buffering': 'no',
} as const;

/**
 * Writes a batch of `data:` events in one socket write, waiting for the socket to drain when the
 * client reads slowly.
 */
export async function writeEvents(res: ServerResponse, batch: readonly string[]): Promise<void> {
  if (res.write(formatEvents(batch))) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** A batch of `data:` events as they go on the wire. */
export function formatEvents(batch: readonly string[]): string {
  let text = '';
  for (const data of batch) text += `data: ${data}\n\n`;
  return text;
}

/**
 * A failure after the stream started cannot change the status code; it is sent as an `error`
 * event, which the OpenAI SDKs raise as an APIError, and the stream ends without `[DONE]`.
 */
export function endWithError(res: ServerResponse, err: GatewayError): void {
  if (!res.writableEnded && !res.destroyed) res.end(`data: ${JSON.stringify(toEnvelope(err))}\n\n`);
}
