import { openAsBlob } from 'node:fs';

/**
 * The CLI's HTTP client for the gateway's own API (Node's fetch, no SDK). Failures come back as
 * values carrying the server's message, so a command can report them per file.
 */

/** A parsed response body of any shape. */
// biome-ignore lint/suspicious/noExplicitAny: the CLI reads arbitrary JSON fields of the gateway's answers.
export type Json = any;

/** A failed call: `status` 0 when the gateway could not be reached. */
export class CallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'CallError';
  }
}

/** Extra attempts for a transient failure (so at most four attempts in all). */
const MAX_RETRIES = 3;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8_000;
/** A Retry-After longer than this is not waited for in full: the run would look hung. */
const RETRY_AFTER_CAP_MS = 60_000;
/** JSON calls are small; a gateway that has not answered in this time is not going to. */
const CALL_TIMEOUT_MS = 30_000;
/** One upload may be a large PDF on a slow link, parsed before the answer; generous on purpose. */
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * The one retry predicate of the CLI: only what may succeed on its own when tried again — the
 * gateway could not be reached (status 0), rate-limited us (429) or failed (5xx). Any other 4xx is
 * the request's fault and is reported at once.
 */
export function isTransient(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/**
 * Full-jitter exponential backoff, as the router's (src/providers/router/retry.ts); unlike the
 * router, the CLI has no other target to try, so the gateway's Retry-After is honoured even when long.
 */
export function retryDelayMs(attempt: number, retryAfter: string | null, random = Math.random): number {
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, RETRY_AFTER_CAP_MS);
  const date = retryAfter === null ? Number.NaN : Date.parse(retryAfter);
  if (Number.isFinite(date)) return Math.min(Math.max(0, date - Date.now()), RETRY_AFTER_CAP_MS);
  return Math.floor(random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt));
}

/** The server's words for a refusal: the OpenAI envelope, or the first per-file error of a batch. */
export function errorOf(status: number, body: Json): { message: string; code: string | null } {
  const err = body?.error ?? body?.errors?.[0]?.error;
  if (err && typeof err.message === 'string') return { message: err.message, code: typeof err.code === 'string' ? err.code : null };
  if (typeof body === 'string' && body.trim()) return { message: `HTTP ${status}: ${body.trim().slice(0, 200)}`, code: null };
  return { message: `HTTP ${status}`, code: null };
}

function networkMessage(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if ((err as Error).name === 'TimeoutError') return 'the gateway did not answer in time';
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

async function readBody(res: Response): Promise<Json> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The local file could not be opened: not the gateway's fault, and not retried. */
class FileError extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface UploadFile {
  path: string;
  /** The multipart filename: the file's base name. */
  name: string;
  type: string;
}

export type UploadResult = { ok: true; body: Json } | { ok: false; status: number; message: string; code: string | null };

export interface GatewayClient {
  readonly url: string;
  /** A JSON call; transient failures are retried unless `retry` is false. Throws CallError. */
  json(method: string, path: string, opts?: { body?: unknown; retry?: boolean }): Promise<Json>;
  /** One file as multipart/form-data, streamed from disk; transient failures are retried. */
  upload(path: string, file: UploadFile, fields: Record<string, string>): Promise<UploadResult>;
}

export function createClient(opts: { url: string; key: string | undefined }): GatewayClient {
  const base = opts.url;
  const auth: Record<string, string> = opts.key ? { authorization: `Bearer ${opts.key}` } : {};

  /** Sends `attempt()` until it answers with a non-transient status or the retries are spent. */
  async function withRetries(retry: boolean, attempt: () => Promise<Response>): Promise<{ status: number; body: Json }> {
    for (let n = 0; ; n++) {
      let res: Response;
      try {
        res = await attempt();
      } catch (err) {
        if (err instanceof FileError) throw err;
        if (retry && n < MAX_RETRIES) {
          await sleep(retryDelayMs(n, null));
          continue;
        }
        throw new CallError(`could not reach the gateway at ${base}: ${networkMessage(err)}`, 0, null);
      }
      const body = await readBody(res);
      if (retry && isTransient(res.status) && n < MAX_RETRIES) {
        await sleep(retryDelayMs(n, res.headers.get('retry-after')));
        continue;
      }
      return { status: res.status, body };
    }
  }

  return {
    url: base,
    async json(method, path, o = {}) {
      const headers: Record<string, string> = { ...auth, accept: 'application/json' };
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const body = o.body === undefined ? undefined : JSON.stringify(o.body);
      const res = await withRetries(o.retry ?? true, () => fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }));
      if (res.status >= 400) {
        const e = errorOf(res.status, res.body);
        throw new CallError(e.message, res.status, e.code);
      }
      return res.body;
    },
    async upload(path, file, fields) {
      try {
        const res = await withRetries(true, async () => {
          // A fresh form per attempt: a file-backed Blob is read lazily, so each attempt streams it again.
          const form = new FormData();
          for (const [k, v] of Object.entries(fields)) form.append(k, v);
          const blob = await openAsBlob(file.path, { type: file.type }).catch((err: NodeJS.ErrnoException) => {
            throw new FileError(`cannot read the file: ${err.code ?? err.message}`);
          });
          form.append('file', blob, file.name);
          return fetch(`${base}${path}`, { method: 'POST', headers: { ...auth, accept: 'application/json' }, body: form, signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS) });
        });
        if (res.status >= 400) return { ok: false, status: res.status, ...errorOf(res.status, res.body) };
        return { ok: true, body: res.body };
      } catch (err) {
        if (err instanceof CallError) return { ok: false, status: err.status, message: err.message, code: err.code };
        if (err instanceof FileError) return { ok: false, status: 0, message: err.message, code: null };
        throw err;
      }
    },
  };
}
