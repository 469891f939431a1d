import { GatewayError, unstorableText } from '../errors.js';

// Postgres SQLSTATE classes that mean "the database is not there right now", not "your query is wrong":
// 08 connection exception, 53 insufficient resources, 57P0x operator intervention (shutdown, crash).
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

// Text Postgres cannot store: 22021 a NUL byte (or bytes not UTF-8) in text, 22P05 "\u0000" in JSON.
const UNSTORABLE_TEXT_SQLSTATE = new Set(['22021', '22P05']);

/**
 * Maps a database outage to a 503 the client may retry, and text the database cannot store (a NUL
 * character, which only a client sends) to a 400; any other error passes through unchanged
 * (constraint violations are handled by the repositories, the rest becomes an opaque 500).
 */
export function mapSqlError(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (UNSTORABLE_TEXT_SQLSTATE.has(code)) return unstorableText(null, err);
  const down = UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code) || /Connection terminated|timeout exceeded when trying to connect/i.test(String(e?.message ?? ''));
  if (!down) return err;
  return new GatewayError('The database is unavailable; retry shortly.', { status: 503, code: 'storage_unavailable', category: 'internal', cause: err, retryAfter: 1 });
}
