import type { IncomingMessage } from 'node:http';
import { bodyErrors, clientClosed } from '../errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads and parses a JSON request body of at most `limit` bytes, with the same errors as the
 * express body parser's mapping (`bodyErrors`): 415 when it is not JSON, 413 over the limit
 * (refused from Content-Length before reading when it is declared), 400 when it does not parse.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (!type || !JSON_TYPE.test(type)) {
    return Promise.reject(bodyErrors.notJson());
  }
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(bodyErrors.tooLarge(declared, limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(bodyErrors.tooLarge(size, limit));
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
        reject(bodyErrors.invalidJson());
      }
    });
    req.once('error', (err) => reject(clientClosed(err)));
  });
}
