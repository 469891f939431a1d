import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
import { clientClosed, GatewayError } from '../errors.js';
import type { CancelSignal } from './cancel.js';

/**
 * The HTTP transport shared by every provider adapter: one keep-alive undici Agent per process,
 * and one place that turns transport failures and upstream statuses into GatewayErrors whose
 * `code` the router's retry predicate understands.
 */

// Keep-alive sockets are what make a proxy fast; 30 s matches common upstream idle timeouts.
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 256 });

/** An upstream's answer as it arrives: what a streamed call needs. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body's bytes as they are read; leaving the loop early aborts the request. */
  body: AsyncIterable<Buffer>;
}

/** Bytes read ahead of a slow consumer before the upstream is paused (and resumed below LOW_WATER). */
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

/**
 * Posts JSON bytes and answers once the upstream's status and headers have come, with its body
 * read as it arrives. Like postBuffered, through undici's dispatcher: the body is a queue of the
 * buffers read, not a Readable, and each read of it takes all that has come. A consumer
 * slower than the upstream pauses it; aborting `signal` aborts the request, with the signal's reason.
 */
export function postStreaming(to: Endpoint, payload: Uint8Array | string, signal: CancelSignal): Promise<UpstreamResponse> {
  if (signal.aborted) return Promise.reject(transportError(signal.reason, signal));
  return new Promise((resolve, reject) => {
    let call: Dispatched | undefined;
    let started = false;
    let ended = false;
    let failure: GatewayError | undefined;
    const queue: Buffer[] = [];
    let queued = 0;
    let paused = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const finish = (): void => {
      ended = true;
      call?.detach();
      notify();
    };
    function fail(err: unknown): void {
      if (ended) return;
      failure = transportError(err, signal);
      finish();
      if (!started) reject(failure);
    }
    const body: AsyncIterableIterator<Buffer> = {
      [Symbol.asyncIterator]() {
        return body;
      },
      async next(): Promise<IteratorResult<Buffer>> {
        for (;;) {
          // Everything read since the last call, as one buffer: a reader that writes what it reads on
          // (an SSE proxy) then writes once per turn of the event loop, not once per network read.
          const chunk = queue.length > 1 ? Buffer.concat(queue.splice(0)) : queue.pop();
          if (chunk) {
            queued -= chunk.length;
            if (paused && queued < LOW_WATER) {
              paused = false;
              call?.controller?.resume();
            }
            return { value: chunk, done: false };
          }
          if (failure) throw failure;
          if (ended) return { value: undefined, done: true };
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      },
      // A consumer that stops reading early: the rest of the body is not wanted.
      async return(): Promise<IteratorResult<Buffer>> {
        if (!ended) {
          call?.controller?.abort(clientClosed());
          finish();
        }
        queue.length = 0;
        return { value: undefined, done: true };
      },
    };
    call = dispatchPost(to, payload, signal, fail, {
      onResponseStart(_c, status, headers) {
        // 1xx informational answers come before the real one.
        if (status < 200 || started) return;
        started = true;
        resolve({ status, headers, body });
      },
      onResponseData(c, chunk) {
        queue.push(chunk);
        queued += chunk.length;
        if (queued > HIGH_WATER && !paused) {
          paused = true;
          c.pause();
        }
        notify();
      },
      onResponseEnd() {
        if (!ended) finish();
      },
    });
  });
}

/** A POST on its way: its controller once it has started, and the end of listening to its signal. */
interface Dispatched {
  controller: Dispatcher.DispatchController | undefined;
  detach(): void;
}

/**
 * Dispatches a POST on the shared agent with `handler`, aborted by `signal` with its reason. Before the
 * request has a connection there is nothing to abort yet: `fail` is told at once, and the request is
 * aborted as soon as it starts. `fail` is also told of every transport error; the signal is let go
 * of then, and by the caller's `detach` when the response has ended.
 */
function dispatchPost(
  to: Endpoint,
  payload: Uint8Array | string,
  signal: CancelSignal,
  fail: (err: unknown) => void,
  handler: Pick<Dispatcher.DispatchHandler, 'onResponseStart' | 'onResponseData' | 'onResponseEnd'>,
): Dispatched {
  // A plain field, not a getter: see the handler below.
  const call: Dispatched = { controller: undefined, detach: () => signal.removeEventListener('abort', onAbort) };
  const { detach } = call;
  const failed = (err: unknown): void => {
    detach();
    fail(err);
  };
  function onAbort(): void {
    if (call.controller) call.controller.abort(abortError(signal));
    else failed(signal.reason);
  }
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    agent.dispatch(
      { origin: to.origin, path: to.path, method: 'POST', headers: to.headers, body: payload },
      // No object spread and no getter here: either made V8 keep each request's closures through two
      // scavenges (promoted to old space, ~8 KB per request at 400 req/s, until the next full GC).
      {
        onResponseStart: handler.onResponseStart,
        onResponseData: handler.onResponseData,
        onResponseEnd: handler.onResponseEnd,
        onRequestStart(c) {
          call.controller = c;
          if (signal.aborted) c.abort(abortError(signal));
        },
        onResponseError(_c, err) {
          failed(err);
        },
      },
    );
  } catch (err) {
    failed(err);
  }
  return call;
}

/** What an aborted request fails with: the signal's reason, as the caller will be told it. */
const abortError = (signal: CancelSignal): Error => transportError(signal.reason, signal);

/** An upstream's answer read whole: what a JSON (not streamed) call needs. */
export interface BufferedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body; for a status outside 2xx, its first ERROR_BODY_BYTES only. */
  body: Buffer;
}

/** Where a provider posts: `url`'s origin and path, split once, and the headers of every request. */
export interface Endpoint {
  origin: string;
  path: string;
  headers: Record<string, string>;
}

export function endpoint(url: string, headers: Record<string, string>): Endpoint {
  const u = new URL(url);
  return { origin: u.origin, path: `${u.pathname}${u.search}`, headers: { 'content-type': 'application/json', ...headers } };
}

/** Most bytes of a JSON answer kept; a larger one is refused as a bad response rather than held. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const tooLarge = (): GatewayError =>
  new GatewayError(`The upstream answered with more than ${MAX_JSON_BYTES} bytes.`, { status: 502, code: UPSTREAM_CODES.badResponse, category: 'upstream' });
/** What is kept of an error answer's body: enough for its message. */
const ERROR_BODY_BYTES = 8192;

/**
 * Posts JSON bytes and reads the whole answer, through undici's dispatcher rather than `request()`:
 * no body stream, no async iteration, one promise. `request()` built a Readable per response, and
 * cost ~20 µs more CPU per call here (a third of the transport's cost). Aborting `signal` aborts the
 * request, at any point, with the signal's reason.
 */
export function postBuffered(to: Endpoint, payload: Uint8Array | string, signal: CancelSignal): Promise<BufferedResponse> {
  if (signal.aborted) return Promise.reject(transportError(signal.reason, signal));
  return new Promise((resolve, reject) => {
    let settled = false;
    let status = 0;
    let headers: BufferedResponse['headers'] = {};
    let parts: Buffer[] = [];
    let size = 0;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      reject(transportError(err, signal));
    };
    const call = dispatchPost(to, payload, signal, fail, {
      onResponseStart(_c, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
        parts = [];
        size = 0;
      },
      onResponseData(c, chunk) {
        const ok = status >= 200 && status < 300;
        if (!ok && size >= ERROR_BODY_BYTES) return;
        size += chunk.length;
        if (ok && size > MAX_JSON_BYTES) {
          c.abort(tooLarge());
          return;
        }
        parts.push(chunk);
      },
      onResponseEnd() {
        if (settled) return;
        settled = true;
        call.detach();
        const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
        resolve({ status, headers, body: status >= 200 && status < 300 ? body : body.subarray(0, ERROR_BODY_BYTES) });
      },
    });
  });
}

/**
 * A buffered answer's JSON value; for a status outside 2xx, the error it maps to (errorOfStatus), and
 * `upstream_bad_response` when the body is not JSON.
 */
export function parseJsonBody<T>(res: BufferedResponse, target: string): T {
  if (res.status < 200 || res.status >= 300) throw errorOfStatus(res.status, res.headers, res.body.toString('utf8'), target);
  try {
    return JSON.parse(res.body.toString('utf8')) as T;
  } catch {
    throw notJson(target);
  }
}

const notJson = (target: string): GatewayError =>
  new GatewayError(`The upstream ${target} answered with a body that is not JSON.`, { status: 502, code: UPSTREAM_CODES.badResponse, category: 'upstream' });

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

export function transportError(err: unknown, signal?: CancelSignal): GatewayError {
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
  const text = await readBounded(res.body, ERROR_BODY_BYTES).catch(() => '');
  return errorOfStatus(res.status, res.headers, text, target);
}

/** Maps an upstream's error status and body to the gateway's error; never copies upstream headers. */
export function errorOfStatus(status: number, headers: BufferedResponse['headers'], text: string, target: string): GatewayError {
  const upstreamMessage = extractMessage(text);
  const retryAfter = Number(headers['retry-after']);
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
