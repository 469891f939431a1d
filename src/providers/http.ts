import { Agent, type Dispatcher, errors as undiciErrors, request } from 'undici';
import { clientClosed, GatewayError } from '../errors.js';

/**
 * The HTTP transport shared by every provider adapter: one keep-alive undici Agent per process,
 * and one place that turns transport failures and upstream statuses into GatewayErrors whose
 * `code` the router's retry predicate understands.
 */

// Keep-alive sockets are what make a proxy fast; 30 s matches common upstream idle timeouts.
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 256 });

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** Posts `payload` as JSON (a string or bytes are sent as they are: already JSON). */
export async function postJson(
  url: string,
  headers: Record<string, string>,
  payload: unknown,
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof payload === 'string' || payload instanceof Uint8Array ? payload : JSON.stringify(payload),
      signal,
      dispatcher: agent,
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (err) {
    throw transportError(err, signal);
  }
}

/** Upstream error codes; the router retries and falls back on exactly these (see router/retry.ts). */
export const UPSTREAM_CODES = {
  timeout: 'upstream_timeout',
  unavailable: 'upstream_unavailable',
  rateLimited: 'upstream_rate_limited',
  serverError: 'upstream_server_error',
  badResponse: 'upstream_bad_response',
  rejected: 'upstream_rejected',
  aborted: 'client_closed_request',
} as const;

export function transportError(err: unknown, signal?: AbortSignal): GatewayError {
  if (err instanceof GatewayError) return err;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof GatewayError) return reason;
    return clientClosed(err);
  }
  const timeout =
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError;
  return new GatewayError(timeout ? 'The upstream timed out.' : 'The upstream could not be reached.', {
    status: timeout ? 504 : 502,
    code: timeout ? UPSTREAM_CODES.timeout : UPSTREAM_CODES.unavailable,
    category: 'upstream',
    cause: err,
  });
}

/** Reads an upstream error body (bounded) and maps its status; never copies upstream headers. */
export async function statusError(res: UpstreamResponse, target: string): Promise<GatewayError> {
  const text = await readBounded(res.body, 8192).catch(() => '');
  const upstreamMessage = extractMessage(text);
  const status = res.status;
  const retryAfter = Number(res.headers['retry-after']);
  if (status === 429) {
    return new GatewayError(`The upstream ${target} is rate limiting requests.`, {
      status: 429,
      code: UPSTREAM_CODES.rateLimited,
      category: 'upstream',
      details: { upstream_status: status },
      ...(Number.isFinite(retryAfter) ? { retryAfter } : {}),
    });
  }
  if (status >= 500) {
    return new GatewayError(`The upstream ${target} failed with status ${status}.`, {
      status: 502,
      code: UPSTREAM_CODES.serverError,
      category: 'upstream',
      details: { upstream_status: status },
    });
  }
  // 4xx other than 429: the request itself was refused; its message helps the caller fix it.
  return new GatewayError(
    upstreamMessage ? `The upstream ${target} rejected the request: ${upstreamMessage}` : `The upstream ${target} rejected the request with status ${status}.`,
    { status: status === 401 || status === 403 ? 502 : status, code: UPSTREAM_CODES.rejected, category: 'upstream', details: { upstream_status: status } },
  );
}

const MAX_UPSTREAM_MESSAGE = 500;

function extractMessage(text: string): string {
  if (!text) return '';
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const msg =
      typeof parsed.error === 'string'
        ? parsed.error
        : typeof parsed.error?.message === 'string'
          ? parsed.error.message
          : typeof parsed.message === 'string'
            ? parsed.message
            : '';
    return redactSecrets(msg).slice(0, MAX_UPSTREAM_MESSAGE);
  } catch {
    return '';
  }
}

// Upstreams sometimes echo the key they were sent ("Incorrect API key provided: sk-abc…").
const SECRET_PATTERN = /\b(sk|pk|rk|key|api)[-_][A-Za-z0-9_-]{6,}\b/gi;
export function redactSecrets(s: string): string {
  return s.replace(SECRET_PATTERN, '[redacted]');
}

export async function readBounded(body: AsyncIterable<Buffer | Uint8Array>, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buf.length;
    if (size > max) {
      parts.push(buf.subarray(0, buf.length - (size - max)));
      break;
    }
    parts.push(buf);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Reads a whole JSON response body, mapping an unparsable one to `upstream_bad_response`. */
export async function readJson<T>(res: UpstreamResponse, target: string, signal: AbortSignal): Promise<T> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw transportError(err, signal);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new GatewayError(`The upstream ${target} answered with a body that is not JSON.`, {
      status: 502,
      code: UPSTREAM_CODES.badResponse,
      category: 'upstream',
    });
  }
}
