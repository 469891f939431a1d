import type { GatewayError } from '../../errors.js';
import { UPSTREAM_CODES } from '../http.js';

/**
 * The one retry predicate: an attempt is repeated, or the next target tried, only when the failure
 * is transient — the upstream could not be reached, timed out, rate-limited us, failed with a 5xx
 * or sent an unreadable body. A 4xx means the request itself is wrong: another target would
 * refuse it too, so it goes straight back to the client.
 */
const TRANSIENT = new Set<string>([
  UPSTREAM_CODES.unavailable,
  UPSTREAM_CODES.timeout,
  UPSTREAM_CODES.rateLimited,
  UPSTREAM_CODES.serverError,
  UPSTREAM_CODES.badResponse,
]);

export function isTransient(err: GatewayError): boolean {
  return TRANSIENT.has(err.code);
}

/**
 * Full-jitter exponential backoff (uniform in [0, min(max, base·2^attempt)]): spreads retries of
 * many clients so they do not hit a recovering upstream in lockstep. An upstream's Retry-After
 * wins when it is within the cap.
 */
export function backoffMs(attempt: number, opts: { baseMs: number; maxMs: number; retryAfterS?: number | undefined }, random = Math.random): number {
  if (opts.retryAfterS !== undefined && opts.retryAfterS * 1000 <= opts.maxMs) return opts.retryAfterS * 1000;
  return Math.floor(random() * Math.min(opts.maxMs, opts.baseMs * 2 ** attempt));
}
