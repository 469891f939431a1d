import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Attributes,
  type AttributeValue,
  context,
  DiagLogLevel,
  diag,
  INVALID_SPAN_CONTEXT,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';

/**
 * OpenTelemetry traces: one SERVER span per chat request and a child span per pipeline stage
 * (auth, rate_limit, quota, context.assemble and its retrieval stages, cache.lookup, upstream per
 * attempt, persist, cache.save). Off by default, turned on the standard way (OTEL_TRACES_EXPORTER,
 * or an OTLP endpoint in OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); the SDK
 * is loaded only then. Stage spans are made only under a recording parent (a sampled request), so
 * with tracing off each stage costs one context lookup. Attributes carry ids, sizes and outcomes,
 * never message text.
 */

export const TRACER_NAME = 'context-gateway';
export const DEFAULT_SERVICE_NAME = 'context-gateway';
/** Longest wait for the last spans to be exported at shutdown. */
const STOP_TIMEOUT_MS = 5_000;

/** What `fn` gets when nothing is traced: setting attributes on it does nothing. */
const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export interface TracingOptions {
  /** An exporter to use instead of the ones the environment names, behind a SimpleSpanProcessor (tests). */
  exporter?: SpanExporter;
  /** Where the SDK's own warnings (failed exports) and the start-up line go. */
  log?: Logger;
}

/** Flushes what is buffered and unregisters the SDK; safe to call twice. */
export type StopTracing = () => Promise<void>;

type ExporterName = 'otlp' | 'console';

/**
 * The exporters the standard variables ask for: OTEL_TRACES_EXPORTER (`otlp`, `console`, `none`;
 * comma-separated), else `otlp` when an OTLP endpoint is set; none (tracing off) otherwise, and
 * always when OTEL_SDK_DISABLED=true.
 */
export function tracesExporters(env: NodeJS.ProcessEnv): { names: ExporterName[]; unknown: string[] } {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return { names: [], unknown: [] };
  const listed = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (listed.length === 0) {
    const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
    return { names: endpoint ? ['otlp'] : [], unknown: [] };
  }
  if (listed.includes('none')) return { names: [], unknown: [] };
  const names = [...new Set(listed.filter((n): n is ExporterName => n === 'otlp' || n === 'console'))];
  return { names, unknown: listed.filter((n) => n !== 'otlp' && n !== 'console') };
}

/**
 * Starts tracing when the environment (or `opts.exporter`) asks for it: a NodeTracerProvider with
 * the AsyncLocalStorage context manager and W3C trace-context propagation, registered globally. The
 * service is `context-gateway` unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES)
 * says otherwise. The SDK itself reads the rest from process.env: OTEL_EXPORTER_OTLP_* (endpoint,
 * headers, timeout, compression), OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL
 * (`http/protobuf` by default, or `http/json`), OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*. Returns the
 * function that flushes and stops it (a no-op when tracing is off).
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env, opts: TracingOptions = {}): Promise<StopTracing> {
  const chosen = opts.exporter ? { names: [], unknown: [] } : tracesExporters(env);
  if (chosen.unknown.length > 0)
    opts.log?.warn({ exporters: chosen.unknown }, 'OTEL_TRACES_EXPORTER names exporters this gateway does not ship (otlp, console); they are ignored');
  if (!opts.exporter && chosen.names.length === 0) return async () => {};

  const sdk = await import('@opentelemetry/sdk-trace-node');
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } = await import('@opentelemetry/resources');
  const { ATTR_SERVICE_NAME } = await import('@opentelemetry/semantic-conventions');
  const processors = [];
  if (opts.exporter) processors.push(new sdk.SimpleSpanProcessor(opts.exporter));
  let protocol: string | undefined;
  for (const name of chosen.names) {
    if (name === 'console') processors.push(new sdk.SimpleSpanProcessor(new sdk.ConsoleSpanExporter()));
    else {
      protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
      if (protocol !== 'http/json' && protocol !== 'http/protobuf') {
        opts.log?.warn({ protocol }, 'OTLP over this protocol is not shipped (http/protobuf, http/json); traces go out as http/protobuf');
        protocol = 'http/protobuf';
      }
      const { OTLPTraceExporter } =
        protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
      processors.push(new sdk.BatchSpanProcessor(new OTLPTraceExporter()));
    }
  }
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) win over the default name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new sdk.NodeTracerProvider({ resource, spanProcessors: processors });
  const log = opts.log;
  if (log) {
    const warn = (message: string, ...args: unknown[]): void => log.warn({ otel: args.map(String) }, `tracing: ${message}`);
    diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  }
  provider.register();
  log?.info({ exporters: opts.exporter ? ['injected'] : chosen.names, ...(protocol ? { protocol } : {}) }, 'tracing on');

  let stopped: Promise<void> | undefined;
  return () => {
    // A collector that does not answer holds the exit up for this long at most.
    stopped ??= Promise.race([provider.shutdown(), new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref())])
      .catch((err: unknown) => log?.warn({ err: (err as Error).message }, 'tracing: spans not flushed at shutdown'))
      .finally(() => {
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      });
    return stopped;
  };
}

const tracer = () => trace.getTracer(TRACER_NAME);

/** Error codes whose message quotes text from outside the gateway (providers/http.ts statusError). */
const QUOTING_CODES = new Set(['upstream_rejected']);

/** Attributes without the undefined values (which the API would drop with a warning). */
function defined(attrs: Record<string, AttributeValue | undefined>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}

/** `error.type` (the gateway's error code, or the error's name) and, for server-side failures, the exception. */
function recordError(span: Span, err: unknown, asFailure: boolean): void {
  const e = err as { code?: unknown; status?: unknown; name?: unknown; message?: unknown };
  const type = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  span.setAttribute(ATTR_ERROR_TYPE, type);
  if (typeof e?.status === 'number') span.setAttribute('gateway.error.status', e.status);
  if (!asFailure) return;
  // An upstream's refusal quotes the upstream's own words, which may echo the request: only its code goes.
  const quoted = QUOTING_CODES.has(type) || typeof e?.message !== 'string';
  span.recordException({ name: type, message: quoted ? type : (e.message as string) });
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * Runs `fn` in a child span of the active one, ended when `fn` settles; a rejection is recorded on
 * the span (error.type, the exception, status ERROR) and passed on. Without a recording parent (tracing
 * off, the request not sampled, no request at all) `fn` runs as is, with a span that records nothing.
 */
export function inSpan<T>(name: string, attributes: Record<string, AttributeValue | undefined> | undefined, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()?.isRecording()) return fn(NOOP_SPAN);
  return tracer().startActiveSpan(name, attributes ? { attributes: defined(attributes) } : {}, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordError(span, err, true);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Sets attributes on a span, leaving out undefined values. */
export function setSpanAttributes(span: Span, attrs: Record<string, AttributeValue | undefined>): void {
  if (span.isRecording()) span.setAttributes(defined(attrs));
}

/**
 * Runs a request's handling under a SERVER span `name` (a child of the caller's trace when the
 * request carries a W3C `traceparent`), ended when the response closes: its status code (499 when the
 * client left first), ERROR for 5xx, and the attributes `describe` gives then.
 */
export function traceRequest(
  req: IncomingMessage,
  res: ServerResponse,
  opts: { name: string; route: string; describe: () => Record<string, AttributeValue | undefined> },
  fn: () => Promise<void>,
): Promise<void> {
  const parent = propagation.extract(context.active(), req.headers);
  const span = tracer().startSpan(
    opts.name,
    { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: req.method ?? 'POST', [ATTR_HTTP_ROUTE]: opts.route } },
    parent,
  );
  if (!span.isRecording()) return fn();
  res.once('close', () => {
    const status = res.writableFinished ? res.statusCode : 499;
    span.setAttributes(defined(opts.describe()));
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return context.with(trace.setSpan(parent, span), fn).catch((err: unknown) => {
    const status = (err as { status?: unknown })?.status;
    recordError(span, err, typeof status !== 'number' || status >= 500);
    throw err;
  });
}
