/**
 * The one error type of the gateway. Routes and adapters throw it; one middleware maps it to the
 * OpenAI error envelope `{error:{message,type,param,code}}`. `category` decides the envelope's `type`
 * and whether the message may reach the client verbatim (internal errors never leak their cause).
 */
export type ErrorCategory = 'client' | 'auth' | 'upstream' | 'internal';

export interface GatewayErrorOptions {
  status: number;
  code: string;
  category: ErrorCategory;
  param?: string | null;
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Seconds the client should wait before retrying (429/503). */
  retryAfter?: number;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly code: string;
  readonly category: ErrorCategory;
  readonly param: string | null;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfter: number | undefined;

  constructor(message: string, opts: GatewayErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.status = opts.status;
    this.code = opts.code;
    this.category = opts.category;
    this.param = opts.param ?? null;
    this.details = opts.details;
    this.retryAfter = opts.retryAfter;
  }
}

const TYPE_BY_CATEGORY: Record<ErrorCategory, string> = {
  client: 'invalid_request_error',
  auth: 'authentication_error',
  upstream: 'upstream_error',
  internal: 'server_error',
};

export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string };
}

export function toEnvelope(err: GatewayError): ErrorEnvelope {
  return {
    error: { message: err.message, type: TYPE_BY_CATEGORY[err.category], param: err.param, code: err.code },
  };
}

/** Shorthands for the errors routes raise most; each names what the caller should fix. */
export const badRequest = (message: string, param?: string, code = 'invalid_request'): GatewayError =>
  new GatewayError(message, { status: 400, code, category: 'client', param: param ?? null });

/** Text Postgres cannot store — a NUL character, which only a client sends — refused as the client's mistake. */
export const unstorableText = (param: string | null, cause?: unknown): GatewayError =>
  new GatewayError('The request holds a NUL character (\\u0000), which cannot be stored; remove it and send the request again.', {
    status: 400,
    code: 'invalid_characters',
    category: 'client',
    param,
    cause,
  });

export const notFound = (message: string, code = 'not_found'): GatewayError =>
  new GatewayError(message, { status: 404, code, category: 'client' });

export const unauthorized = (message: string, code = 'invalid_api_key'): GatewayError =>
  new GatewayError(message, { status: 401, code, category: 'auth' });

export const forbidden = (message: string, code = 'forbidden'): GatewayError =>
  new GatewayError(message, { status: 403, code, category: 'auth' });

/** The client went away before the response was finished (nginx's 499). */
export const clientClosed = (cause?: unknown): GatewayError =>
  new GatewayError('The client closed the request.', { status: 499, code: 'client_closed_request', category: 'client', cause });

/** Request-body failures, the same from the chat handler's reader and express's body parser. */
export const bodyErrors = {
  notJson: (): GatewayError =>
    new GatewayError('Send the request body as JSON with "Content-Type: application/json".', { status: 415, code: 'unsupported_media_type', category: 'client' }),
  invalidJson: (): GatewayError => badRequest('The request body is not valid JSON.', undefined, 'invalid_json'),
  tooLarge: (size: number | undefined, limit: number | undefined): GatewayError =>
    new GatewayError(`The request body (${size} bytes) is larger than the ${limit}-byte limit (server.maxBodyBytes).`, {
      status: 413,
      code: 'request_too_large',
      category: 'client',
    }),
};

/** Turns anything thrown into a GatewayError; unknown errors become an opaque 500. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('The gateway hit an internal error; the request id in the logs has the detail.', {
    status: 500,
    code: 'internal_error',
    category: 'internal',
    cause: err,
  });
}
