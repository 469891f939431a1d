import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { createStreamAccumulator } from '../../chat/accumulate.js';
import type { ChatCaller, ChatService, PreparedChat } from '../../chat/service.js';
import type { CacheLookup, ResponseCache } from '../../cache/cache.js';
import { parseCacheControl } from '../../cache/policy.js';
import { replayChunks } from '../../cache/replay.js';
import { type BuiltContext, citationsOf } from '../../context/pipeline.js';
import type { Metrics } from '../../observability/metrics.js';
import { asGatewayError, clientClosed, GatewayError } from '../../errors.js';
import { UPSTREAM_CODES } from '../../providers/http.js';
import type { ChatCompletion, ChatMessage, Usage } from '../../providers/types.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { readJsonBody } from '../body.js';
import { tenantKey } from '../middleware/auth.js';
import { accessLog, createContext, type RequestContext } from '../request-context.js';
import { sendError, sendJson } from '../respond.js';
import { chatRequestSchema, sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';
import { endWithError, SSE_HEADERS, writeEvents } from '../sse.js';

export interface ChatHandlerDeps {
  auth: Authenticator;
  chat: ChatService;
  log: Logger;
  maxBodyBytes: number;
  streamIdleTimeoutMs: number;
  cache: ResponseCache;
  metrics: Metrics;
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

  async function handle(req: IncomingMessage, res: ServerResponse, c: RequestContext): Promise<void> {
    const principal = tenantKey(await auth.authenticate(req.headers.authorization));
    c.principal = principal;
    c.logFields.tenant = principal.tenantId;
    const body = validate(chatRequestSchema, await readJsonBody(req, deps.maxBodyBytes));
    const header = req.headers['x-session-id'];
    const sessionId = body.session_id ?? (typeof header === 'string' ? validate(sessionIdSchema, header, 'X-Session-Id header') : undefined);
    c.logFields.model = body.model;
    if (sessionId) c.logFields.session = sessionId;

    const caller = { tenantId: principal.tenantId, scopes: principal.scopes };
    const prepared = await chat.prepare(caller, body, sessionId);
    const client = abortOnClose(res);
    const cite = body.context?.citations === true;
    if (prepared.context) setContextHeaders(res, prepared.context);
    const lookup = await deps.cache.lookup(principal.tenantId, prepared, parseCacheControl(req.headers['cache-control']));
    setCacheHeaders(res, lookup);
    c.logFields.cache = lookup.hit ? lookup.hit.kind : lookup.status;
    if (lookup.hit) return fromCache(res, c, prepared, lookup, caller, body.stream === true, cite);
    if (body.stream) return stream(res, c, prepared, client.signal, caller, cite, lookup);

    const attempt = await chat.complete(prepared, client.signal);
    try {
      c.logFields.target = attempt.target.provider;
      c.logFields.attempts = attempt.attempts;
      const completion = attempt.result;
      countUsage(prepared.resolved.alias, completion.usage);
      const answer = completion.choices?.[0]?.message;
      if (answer) await chat.persist(caller, prepared, answer as ChatMessage);
      sendJson(res, 200, prepared.context ? withContext(completion, prepared.context, cite) : completion);
      deps.cache.save(principal.tenantId, prepared, lookup, completion);
    } finally {
      attempt.dispose();
    }
  }

  /** Answers from a cache entry: the session's turns are written as for a live answer, and a stream is replayed. */
  async function fromCache(res: ServerResponse, c: RequestContext, prepared: PreparedChat, lookup: CacheLookup, caller: ChatCaller, streamed: boolean, cite: boolean): Promise<void> {
    const entry = (lookup.hit as NonNullable<CacheLookup['hit']>).entry;
    const answer = entry.response.choices[0]?.message;
    if (answer) await chat.persist(caller, prepared, answer as ChatMessage);
    deps.cache.recordHit(lookup);
    const completion: ChatCompletion = { ...entry.response, usage: deps.cache.hitUsage(lookup) };
    if (!streamed) {
      sendJson(res, 200, prepared.context ? withContext(completion, prepared.context, cite) : completion);
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

  async function stream(res: ServerResponse, c: RequestContext, prepared: PreparedChat, signal: AbortSignal, caller: ChatCaller, cite: boolean, lookup: CacheLookup): Promise<void> {
    const attempt = await chat.stream(prepared, signal);
    c.logFields.target = attempt.target.provider;
    c.logFields.attempts = attempt.attempts;
    const caching = lookup.status === 'miss' || lookup.status === 'refresh';
    const acc = prepared.session || caching ? createStreamAccumulator() : undefined;
    // Between chunks the upstream gets the same allowance as for its first byte.
    const idle = setTimeout(() => {
      attempt.abort(new GatewayError(`The upstream stopped sending for ${deps.streamIdleTimeoutMs} ms.`, { status: 504, code: UPSTREAM_CODES.timeout, category: 'upstream' }));
    }, deps.streamIdleTimeoutMs);
    res.writeHead(200, SSE_HEADERS);
    // The sources come first, in a chunk without choices (as usage chunks are), so SDKs read on.
    if (cite && prepared.context) res.write(`data: ${JSON.stringify(sourcesChunk(c, prepared))}\n\n`);
    try {
      for await (const batch of attempt.result) {
        idle.refresh();
        if (acc) for (const data of batch) acc.add(data);
        await writeEvents(res, batch);
      }
      clearTimeout(idle);
      // The answer is durable before the client sees [DONE].
      if (acc && prepared.session) await chat.persist(caller, prepared, acc.message());
      res.end('data: [DONE]\n\n');
      if (acc) {
        countUsage(prepared.resolved.alias, acc.usage());
        // Only a stream that ran to its end is stored (save checks it finished).
        if (caching) deps.cache.save(caller.tenantId, prepared, lookup, acc.completion());
      }
    } catch (raw) {
      const err = asGatewayError(raw);
      c.logFields.code = err.code;
      if (err.code !== UPSTREAM_CODES.aborted) c.log.warn({ code: err.code }, 'stream failed after it started');
      endWithError(res, err);
    } finally {
      clearTimeout(idle);
      attempt.dispose();
    }
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    const c = createContext(req, deps.log);
    res.setHeader('x-request-id', c.id);
    res.once('finish', () => accessLog(deps.log, req.method ?? 'POST', '/v1/chat/completions', res.statusCode, c));
    handle(req, res, c).catch((err: unknown) => sendError(res, err, c));
  };
}

/** An AbortController fired when the client goes away before the response is finished. */
function abortOnClose(res: ServerResponse): AbortController {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) {
      ac.abort(clientClosed());
    }
  });
  return ac;
}

/** The citations of a streamed answer: a chunk without choices (as usage chunks are), so SDKs read on. */
function sourcesChunk(c: RequestContext, prepared: PreparedChat): Record<string, unknown> {
  return { id: `ctx-${c.id}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: prepared.resolved.alias, choices: [], citations: citationsOf(prepared.context as BuiltContext) };
}

/**
 * What the cache did: `x-cache` hit, miss, refresh (Cache-Control: no-cache), off (disabled or
 * no-store) or skip (not cacheable, `x-cache-reason` says why); on a hit, its kind, similarity,
 * entry id and age in seconds (also as the standard `age`).
 */
function setCacheHeaders(res: ServerResponse, lookup: CacheLookup): void {
  res.setHeader('x-cache', lookup.status);
  if (lookup.reason) res.setHeader('x-cache-reason', lookup.reason);
  if (lookup.degraded) res.setHeader('x-cache-degraded', lookup.degraded.join(','));
  const hit = lookup.hit;
  if (!hit) return;
  const age = String(Math.max(0, Math.floor((Date.now() - hit.entry.createdAt) / 1000)));
  res.setHeader('x-cache-kind', hit.kind);
  res.setHeader('x-cache-similarity', hit.similarity.toFixed(4));
  res.setHeader('x-cache-entry', hit.entry.id);
  res.setHeader('x-cache-age', age);
  res.setHeader('age', age);
}

/** Most provenance ids listed in the header; the JSON body (and POST /v1/context) has them all. */
const MAX_HEADER_IDS = 50;

/**
 * What the context holds, in headers stock clients ignore (streams have no body to extend):
 * tokens per section, and the ids of the retrieved items.
 */
function setContextHeaders(res: ServerResponse, context: BuiltContext): void {
  const t = context.tokens;
  res.setHeader('x-context-tokens', Object.entries(t).map(([k, v]) => `${k}=${v}`).join(', '));
  res.setHeader('x-session-history-turns', String(context.historyTurns));
  const retrieved = context.items.filter((i) => i.section !== 'recent' && i.section !== 'older');
  if (retrieved.length > 0) res.setHeader('x-context-provenance', retrieved.slice(0, MAX_HEADER_IDS).map((i) => encodeURIComponent(i.id)).join(','));
  if (context.retrieval.degraded) res.setHeader('x-context-degraded', context.retrieval.degraded.join(','));
}

/**
 * The answer with `usage.context` (tokens per section) and a `context` extension: every retrieved
 * item, and the replayed history as a range (a long session would otherwise list hundreds of turns in
 * every answer; POST /v1/context lists them all).
 */
function withContext(completion: ChatCompletion, context: BuiltContext, cite: boolean): ChatCompletion {
  const { total: _total, ...sections } = context.tokens;
  const replayed = context.items.filter((i) => i.section === 'recent' || i.section === 'older');
  return {
    ...completion,
    usage: completion.usage ? { ...completion.usage, context: sections } : completion.usage,
    context: {
      items: context.items.filter((i) => i.section !== 'recent' && i.section !== 'older'),
      history: { turns: replayed.length, first_seq: replayed[0]?.seq ?? null, last_seq: replayed.at(-1)?.seq ?? null },
    },
    ...(cite ? { citations: citationsOf(context) } : {}),
  } as ChatCompletion;
}
