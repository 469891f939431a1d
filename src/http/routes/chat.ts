import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { createStreamAccumulator } from '../../chat/accumulate.js';
import type { ChatCaller, ChatService, PreparedChat } from '../../chat/service.js';
import type { CacheLookup, ResponseCache } from '../../cache/cache.js';
import { parseCacheControl } from '../../cache/policy.js';
import { replayChunks } from '../../cache/replay.js';
import type { Metrics } from '../../observability/metrics.js';
import { traceRequest } from '../../observability/tracing.js';
import type { PriceTable } from '../../usage/prices.js';
import type { Limit, RateLimiter } from '../../governance/ratelimit.js';
import type { Config } from '../../config/schema.js';
import type { Quotas } from '../../governance/quotas.js';
import type { Capture } from '../../observability/capture.js';
import { createChunkRestorer, type PlaceholderVault, piiBlockedError, type Redactor, restoreCompletion } from '../../governance/pii/index.js';
import type { Router } from '../../providers/router/router.js';
import { checkModel, checkRoute, type KeyPrincipal } from '../middleware/auth.js';
import type { UsageRecorder } from '../../usage/recorder.js';
import { asGatewayError, clientClosed, GatewayError, unstorableText } from '../../errors.js';
import { type CancelSignal, Canceller } from '../../providers/cancel.js';
import { UPSTREAM_CODES } from '../../providers/http.js';
import type { ChatCompletion, ChatMessage, Usage } from '../../providers/types.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { readJsonBody } from '../body.js';
import { tenantKey } from '../middleware/auth.js';
import { accessLog, createContext, type RequestContext } from '../request-context.js';
import { sendError, sendJson } from '../respond.js';
import { chatRequestSchema, sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';
import { endWithError, formatEvents, SSE_HEADERS, writeEvents } from '../sse.js';
import { createMeter, type Metered } from './chat-meter.js';
import { rateLimited, setCacheHeaders, setContextHeaders, setRateLimitHeaders, sourcesChunk, withContext, withExtra } from './chat-response.js';

export interface ChatHandlerDeps {
  auth: Authenticator;
  chat: ChatService;
  log: Logger;
  maxBodyBytes: number;
  streamIdleTimeoutMs: number;
  cache: ResponseCache;
  metrics: Metrics;
  usage: UsageRecorder;
  prices: PriceTable;
  limiter: RateLimiter;
  quotas: Quotas;
  /** Redacts PII from what is sent upstream (and restores placeholders in answers); absent when off. */
  pii: Redactor | undefined;
  capture: Capture;
  router: Router;
  models: Config['models'];
}

/** A chat body built by another route (the prompt API) instead of read from the request; `extra` joins a JSON answer. */
export interface ChatRun {
  body: unknown;
  extra: Record<string, unknown>;
}

/**
 * POST /v1/chat/completions — OpenAI-compatible, plus the gateway's `session_id`.
 *
 * This is the hot path, so it is a plain node:http handler rather than an express route: it skips
 * the router's per-request middleware walk and reads its own body, with the same request id,
 * access log, body limits and error envelope as every other route (app.ts dispatches to it).
 */
export function createChatHandler(deps: ChatHandlerDeps) {
  const { chat, auth } = deps;

  async function handle(req: IncomingMessage, res: ServerResponse, c: RequestContext, m: Metered, run?: ChatRun): Promise<void> {
    const principal = tenantKey(await auth.authenticate(req.headers.authorization));
    c.principal = principal;
    c.logFields.tenant = principal.tenantId;
    const body = validate(chatRequestSchema, run ? run.body : await readJsonBody(req, deps.maxBodyBytes));
    const header = req.headers['x-session-id'];
    const sessionId = body.session_id ?? (typeof header === 'string' ? validate(sessionIdSchema, header, 'X-Session-Id header') : undefined);
    c.logFields.model = body.model;
    if (sessionId) c.logFields.session = sessionId;
    // A session stores the new turns: text Postgres cannot store is refused before the upstream is paid for.
    if (sessionId && holdsNul(body.messages)) throw unstorableText('messages');
    // The usage row stores the `user`.
    if (body.user?.includes('\u0000')) throw unstorableText('user');
    // Scopes, then rate limits, before any work is done for the request (retrieval, the upstream).
    const limitsStart = performance.now();
    checkRoute(principal, run ? 'prompts' : 'chat');
    const alias = deps.router.resolve(body.model).alias;
    checkModel(principal, alias);
    const limits = limitsOf(principal, alias);
    if (limits.length > 0) {
      const admission = await deps.limiter.admit(limits);
      setRateLimitHeaders(res, admission);
      if (!admission.ok) throw rateLimited(admission);
      m.limits = limits;
    }
    const budgetShare = await deps.quotas.check([
      { tenantId: principal.tenantId, scope: `key:${principal.keyId}`, limits: principal.limits.key, whose: 'this API key' },
      ...(principal.teamId
        ? [{ tenantId: principal.tenantId, scope: `team:${principal.tenantId}:${principal.teamId}`, limits: principal.limits.team, whose: `team "${principal.teamId}"` }]
        : []),
      { tenantId: principal.tenantId, scope: `tenant:${principal.tenantId}`, limits: principal.limits.tenant, whose: 'this tenant' },
    ]);
    stage('limits', limitsStart);

    const caller = { tenantId: principal.tenantId, scopes: principal.scopes };
    const prepared = await timed('context', () => chat.prepare(caller, body, sessionId));
    m.prepared = prepared;
    // Cost-aware routing: past the alias's budget threshold the cheapest target goes first.
    const threshold = prepared.resolved.budgetThreshold;
    if (threshold !== undefined && budgetShare >= threshold) {
      prepared.economy = true;
      res.setHeader('x-route-economy', `budget ${Math.round(budgetShare * 100)}% used`);
    }
    const client = abortOnClose(res);
    const cite = body.context?.citations === true;
    if (prepared.context) setContextHeaders(res, prepared.context);
    // What goes upstream (and into the cache key) carries no PII; placeholders come back in the answer.
    let vault: PlaceholderVault | undefined;
    if (deps.pii) {
      const redacted = deps.pii.redactMessages(prepared.body.messages);
      if (redacted.blocked.length > 0) throw piiBlockedError(redacted.blocked);
      prepared.body.messages = redacted.messages;
      if (redacted.vault.size > 0) vault = redacted.vault;
    }
    const cacheStart = performance.now();
    const lookup = await deps.cache.lookup(principal.tenantId, prepared, parseCacheControl(req.headers['cache-control']));
    stage('cache', cacheStart);
    setCacheHeaders(res, lookup);
    c.logFields.cache = lookup.hit ? lookup.hit.kind : lookup.status;
    if (lookup.hit) {
      m.cache = { kind: lookup.hit.kind, savedUsd: deps.cache.savedCost(lookup.hit.entry) };
      return fromCache(res, c, prepared, lookup, caller, body.stream === true, cite, run?.extra, vault);
    }
    if (body.stream) return stream(res, c, prepared, client.signal, caller, cite, lookup, m, vault);

    const attempt = await timed('upstream', () => chat.complete(prepared, client.signal));
    try {
      c.logFields.target = attempt.target.provider;
      c.logFields.attempts = attempt.attempts;
      m.target = attempt.target;
      const completion = attempt.result;
      m.completion = completion;
      countUsage(prepared.resolved.alias, completion.usage);
      // The client gets its own values back; the cache keeps the answer as the upstream wrote it.
      const shown = vault ? restoreCompletion(completion, vault) : completion;
      const answer = shown.choices?.[0]?.message;
      const persistStart = performance.now();
      if (answer) await chat.persist(caller, prepared, answer as ChatMessage);
      stage('persist', persistStart);
      sendJson(res, 200, withExtra(prepared.context ? withContext(shown, prepared.context, cite) : shown, run?.extra));
      deps.cache.save(principal.tenantId, prepared, lookup, completion);
    } finally {
      attempt.dispose();
    }
  }

  /** Answers from a cache entry: the session's turns are written as for a live answer, and a stream is replayed. */
  async function fromCache(
    res: ServerResponse,
    c: RequestContext,
    prepared: PreparedChat,
    lookup: CacheLookup,
    caller: ChatCaller,
    streamed: boolean,
    cite: boolean,
    extra: Record<string, unknown> | undefined,
    vault: PlaceholderVault | undefined,
  ): Promise<void> {
    const entry = (lookup.hit as NonNullable<CacheLookup['hit']>).entry;
    const response = vault ? restoreCompletion(entry.response, vault) : entry.response;
    const answer = response.choices[0]?.message;
    if (answer) await chat.persist(caller, prepared, answer as ChatMessage);
    deps.cache.recordHit(lookup);
    const completion: ChatCompletion = { ...response, usage: deps.cache.hitUsage(lookup) };
    if (!streamed) {
      sendJson(res, 200, withExtra(prepared.context ? withContext(completion, prepared.context, cite) : completion, extra));
      return;
    }
    res.writeHead(200, SSE_HEADERS);
    if (cite && prepared.context) res.write(`data: ${JSON.stringify(sourcesChunk(c, prepared))}\n\n`);
    await writeEvents(res, replayChunks(completion, prepared.body.stream_options?.include_usage ? completion.usage : undefined));
    res.end('data: [DONE]\n\n');
  }

  function countUsage(alias: string, usage: Usage | undefined): void {
    if (!usage) return;
    deps.metrics.upstreamTokens.inc({ alias, direction: 'prompt' }, usage.prompt_tokens);
    deps.metrics.upstreamTokens.inc({ alias, direction: 'completion' }, usage.completion_tokens);
  }

  async function stream(
    res: ServerResponse,
    c: RequestContext,
    prepared: PreparedChat,
    signal: CancelSignal,
    caller: ChatCaller,
    cite: boolean,
    lookup: CacheLookup,
    m: Metered,
    vault: PlaceholderVault | undefined,
  ): Promise<void> {
    const attempt = await timed('upstream', () => chat.stream(prepared, signal));
    c.logFields.target = attempt.target.provider;
    c.logFields.attempts = attempt.attempts;
    m.target = attempt.target;
    const caching = lookup.status === 'miss' || lookup.status === 'refresh';
    // Every stream is read for its usage (what the upstream reports, else the tokenizer counts what
    // was sent), also when the client leaves before the end.
    const acc = createStreamAccumulator();
    m.stream = acc;
    // Between chunks the upstream gets the same allowance as for its first byte.
    const idle = setTimeout(() => {
      attempt.abort(new GatewayError(`The upstream stopped sending for ${deps.streamIdleTimeoutMs} ms.`, { status: 504, code: UPSTREAM_CODES.timeout, category: 'upstream' }));
    }, deps.streamIdleTimeoutMs);
    res.writeHead(200, SSE_HEADERS);
    // Without a session to persist first, the last batch goes out with [DONE] in one write.
    let held = '';
    // The sources come first, in a chunk without choices (as usage chunks are), so SDKs read on.
    if (cite && prepared.context) res.write(`data: ${JSON.stringify(sourcesChunk(c, prepared))}\n\n`);
    try {
      // Placeholders are restored chunk by chunk for the client; the accumulator keeps the upstream's text.
      const restore = vault ? createChunkRestorer(vault) : undefined;
      for await (const batch of attempt.result) {
        idle.refresh();
        for (const data of batch) acc.add(data);
        // A usage chunk the client did not ask for is metered, not sent.
        if (batch.usage !== undefined) acc.add(batch.usage);
        const out = restore ? batch.map(restore) : batch;
        if (batch.last && !prepared.session) held = formatEvents(out);
        else if (out.length > 0) await writeEvents(res, out);
      }
      clearTimeout(idle);
      // The answer is durable before the client sees [DONE].
      if (prepared.session) {
        const message = acc.message();
        await chat.persist(caller, prepared, vault && typeof message.content === 'string' ? { ...message, content: vault.restore(message.content) } : message);
      }
      res.end(`${held}data: [DONE]\n\n`);
      countUsage(prepared.resolved.alias, acc.usage());
      // Only a stream that ran to its end is stored (save checks it finished).
      if (caching) deps.cache.save(caller.tenantId, prepared, lookup, acc.completion());
    } catch (raw) {
      const err = asGatewayError(raw);
      c.logFields.code = err.code;
      if (err.code !== UPSTREAM_CODES.aborted) c.log.warn({ code: err.code }, 'stream failed after it started');
      // A failure after the last batch came (the upstream's connection, say): the client still gets it first.
      if (held !== '' && !res.writableEnded && !res.destroyed) res.write(held);
      endWithError(res, err);
    } finally {
      clearTimeout(idle);
      attempt.dispose();
    }
  }

  type Stage = 'limits' | 'context' | 'cache' | 'upstream' | 'persist';
  // The hot path's metrics with their labels bound once: an observe with a labels object hashes them every time.
  const stageTimer = (stage: Stage) => deps.metrics.stageSeconds.labels({ stage });
  const stages = { limits: stageTimer('limits'), context: stageTimer('context'), cache: stageTimer('cache'), upstream: stageTimer('upstream'), persist: stageTimer('persist') };
  const requestSeconds = deps.metrics.requestSeconds.labels({ route: '/v1/chat/completions' });
  const requestsByStatus = new Map<number, ReturnType<typeof deps.metrics.requests.labels>>();
  const countRequest = (status: number): void => {
    let counter = requestsByStatus.get(status);
    if (!counter) {
      counter = deps.metrics.requests.labels({ route: '/v1/chat/completions', method: 'POST', status: String(status) });
      requestsByStatus.set(status, counter);
    }
    counter.inc();
  };
  function stage(name: Stage, start: number): void {
    stages[name].observe((performance.now() - start) / 1000);
  }
  /** Runs a stage, timed whether it succeeds or fails. */
  async function timed<T>(name: Stage, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      stage(name, start);
    }
  }

  /** The key's, the tenant's and the model alias's limits that apply to a request. */
  function limitsOf(p: KeyPrincipal, alias: string): Limit[] {
    const out: Limit[] = [];
    const add = (scope: string, l: { rpm?: number | undefined; tpm?: number | undefined } | undefined, whose: string): void => {
      if (l?.rpm) out.push({ scope, kind: 'requests', limit: l.rpm, label: `requests per minute of ${whose}` });
      if (l?.tpm) out.push({ scope, kind: 'tokens', limit: l.tpm, label: `tokens per minute of ${whose}` });
    };
    add(`key:${p.keyId}`, p.limits.key, 'this API key');
    if (p.teamId) add(`team:${p.tenantId}:${p.teamId}`, p.limits.team, `team "${p.teamId}"`);
    add(`tenant:${p.tenantId}`, p.limits.tenant, 'this tenant');
    add(`model:${alias}`, deps.models[alias]?.limits, `model "${alias}"`);
    return out;
  }

  const meter = createMeter(deps);

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const c = createContext(req, deps.log);
    const m: Metered = {};
    res.setHeader('x-request-id', c.id);
    res.once('finish', () => {
      accessLog(deps.log, req.method ?? 'POST', '/v1/chat/completions', res.statusCode, c);
      countRequest(res.statusCode);
      requestSeconds.observe((performance.now() - c.startedAt) / 1000);
    });
    // 'close' comes after 'finish', or alone when the client left first (a 499 in the usage row).
    res.once('close', () => meter(c, m, res.writableFinished ? res.statusCode : 499));
    traceRequest(req, res, { name: 'chat.completions', route: '/v1/chat/completions', describe: () => spanAttributes(c, m) }, () => handle(req, res, c, m)).catch((err: unknown) => sendError(res, err, c));
  };

  /**
   * Answers a body built by another express route (POST /v1/prompts/:name) through this same pipeline:
   * cache, routing, sessions, streaming, metering. Its errors go to the caller's error handler.
   */
  function run(req: IncomingMessage, res: ServerResponse, c: RequestContext, body: unknown, extra: Record<string, unknown>): Promise<void> {
    const m: Metered = { route: 'prompt' };
    res.once('close', () => meter(c, m, res.writableFinished ? res.statusCode : 499));
    return traceRequest(req, res, { name: 'chat.completions', route: '/v1/prompts/:name', describe: () => spanAttributes(c, m) }, () => handle(req, res, c, m, { body, extra }));
  }

  return Object.assign(listener, { run });
}

export type ChatHandler = ReturnType<typeof createChatHandler>;

/** What a request's trace span says about it once it has ended: ids and outcomes, never message text. */
function spanAttributes(c: RequestContext, m: Metered): Record<string, string | number | boolean | undefined> {
  return {
    'gateway.request_id': c.id,
    'gateway.tenant_id': c.principal?.kind === 'key' ? c.principal.tenantId : undefined,
    'gateway.model_alias': m.prepared?.resolved.alias ?? (typeof c.logFields.model === 'string' ? c.logFields.model : undefined),
    'gateway.session': c.logFields.session !== undefined,
    'gateway.stream': m.prepared?.body.stream === true,
    'gateway.cache': typeof c.logFields.cache === 'string' ? c.logFields.cache : undefined,
    'gateway.upstream.provider': m.target?.provider,
    'gateway.upstream.model': m.target?.model,
    'gateway.upstream.attempts': typeof c.logFields.attempts === 'number' ? c.logFields.attempts : undefined,
    'error.type': typeof c.logFields.code === 'string' ? c.logFields.code : undefined,
  };
}

/** Whether a NUL character is in any string of `value` (the messages a session would store). */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(holdsNul);
  return value !== null && typeof value === 'object' && Object.values(value).some(holdsNul);
}

/** Aborted when the client goes away before the response is finished. */
function abortOnClose(res: ServerResponse): Canceller {
  const ac = new Canceller();
  res.once('close', () => {
    if (!res.writableFinished) {
      ac.abort(clientClosed());
    }
  });
  return ac;
}

