import type { ServerResponse } from 'node:http';
import { asGatewayError, type GatewayError, toEnvelope } from '../errors.js';
import type { RequestContext } from './request-context.js';

/** Writes a JSON body with its length in one write: the response path of every hot route. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The one place errors become responses: the OpenAI envelope with a stable code, never internals.
 * Internal and upstream failures are logged with their cause under the request id.
 */
export function sendError(res: ServerResponse, raw: unknown, c: RequestContext): void {
  const err: GatewayError = asGatewayError(raw);
  c.logFields.code = err.code;
  if (err.category === 'internal' || err.category === 'upstream') c.log.error({ code: err.code, err: err.cause ?? err }, err.message);
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (err.retryAfter !== undefined) res.setHeader('retry-after', String(Math.ceil(err.retryAfter)));
  sendJson(res, err.status, toEnvelope(err));
}
