import type { IncomingMessage } from 'node:http';
import { badRequest, GatewayError } from '../errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads and parses a JSON request body of at most `limit` bytes. The same errors as the express
 * body parser's mapping (middleware/errors.ts): 415 when it is not JSON, 413 over the limit
 * (refused from Content-Length before reading when it is declared), 400 when it does not parse.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (!type || !JSON_TYPE.test(type)) {
    return Promise.reject(new GatewayError('Send the request body as JSON with "Content-Type: application/json".', { status: 415, code: 'unsupported_media_type', category: 'client' }));
  }
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(declared, limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (size > limit) return;
      const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(badRequest('The request body is not valid JSON.', undefined, 'invalid_json'));
      }
    });
    req.once('error', (err) => reject(new GatewayError('The client closed the request.', { status: 499, code: 'client_closed_request', category: 'client', cause: err })));
  });
}

function tooLarge(size: number, limit: number): GatewayError {
  return new GatewayError(`The request body (${size} bytes) is larger than the ${limit}-byte limit (server.maxBodyBytes).`, {
    status: 413,
    code: 'request_too_large',
    category: 'client',
  });
}
