import type { ServerResponse } from 'node:http';
import type { CacheLookup } from '../../cache/cache.js';
import type { PreparedChat } from '../../chat/service.js';
import { type BuiltContext, citationsOf } from '../../context/pipeline.js';
import { GatewayError } from '../../errors.js';
import { type Admission, formatReset, type LimitState } from '../../governance/ratelimit.js';
import type { ChatCompletion } from '../../providers/types.js';
import type { RequestContext } from '../request-context.js';

/**
 * What a chat answer carries besides the completion: the response headers (rate limits, cache,
 * context) and the gateway's extensions of the JSON body (context provenance, citations).
 */

/** The JSON answer with the fields a route adds (the prompt API's `prompt`); the completion itself when none. */
export function withExtra(body: ChatCompletion, extra: Record<string, unknown> | undefined): ChatCompletion {
  return extra ? ({ ...body, ...extra } as ChatCompletion) : body;
}

/**
 * OpenAI's rate-limit headers, for the tightest requests-limit and tokens-limit of the request:
 * x-ratelimit-{limit,remaining,reset}-{requests,tokens} (reset: until there is room again).
 */
export function setRateLimitHeaders(res: ServerResponse, admission: Admission): void {
  for (const kind of ['requests', 'tokens'] as const) {
    let tightest: LimitState | undefined;
    for (const s of admission.states) if (s.limit.kind === kind && (!tightest || s.remaining < tightest.remaining)) tightest = s;
    if (!tightest) continue;
    res.setHeader(`x-ratelimit-limit-${kind}`, String(tightest.limit.limit));
    res.setHeader(`x-ratelimit-remaining-${kind}`, String(tightest.remaining));
    res.setHeader(`x-ratelimit-reset-${kind}`, formatReset(tightest.resetMs));
  }
}

export function rateLimited(admission: Admission): GatewayError {
  const d = admission.denied as LimitState;
  const wait = Math.max(1, Math.ceil(d.resetMs / 1000));
  return new GatewayError(`Rate limit reached: ${d.limit.limit} ${d.limit.label} (used ${Math.floor(d.used)} in the last minute). Try again in ${wait} s.`, {
    status: 429,
    code: 'rate_limit_exceeded',
    category: 'client',
    retryAfter: wait,
  });
}

/** The citations of a streamed answer: a chunk without choices (as usage chunks are), so SDKs read on. */
export function sourcesChunk(c: RequestContext, prepared: PreparedChat): Record<string, unknown> {
  return { id: `ctx-${c.id}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: prepared.resolved.alias, choices: [], citations: citationsOf(prepared.context as BuiltContext) };
}

/**
 * What the cache did: `x-cache` hit, miss, refresh (Cache-Control: no-cache), off (disabled or
 * no-store) or skip (not cacheable, `x-cache-reason` says why); on a hit, its kind, similarity,
 * entry id and age in seconds (also as the standard `age`).
 */
export function setCacheHeaders(res: ServerResponse, lookup: CacheLookup): void {
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
export function setContextHeaders(res: ServerResponse, context: BuiltContext): void {
  const t = context.tokens;
  res.setHeader('x-context-tokens', Object.entries(t).map(([k, v]) => `${k}=${v}`).join(', '));
  res.setHeader('x-session-history-turns', String(context.historyTurns));
  const retrieved = context.retrieved;
  if (retrieved.length > 0) res.setHeader('x-context-provenance', retrieved.slice(0, MAX_HEADER_IDS).map((i) => encodeURIComponent(i.id)).join(','));
  if (context.retrieval.degraded) res.setHeader('x-context-degraded', context.retrieval.degraded.join(','));
}

/**
 * The answer with `usage.context` (tokens per section) and a `context` extension: every retrieved
 * item, and the replayed history as a range (a long session would otherwise list hundreds of turns in
 * every answer; POST /v1/context lists them all).
 */
export function withContext(completion: ChatCompletion, context: BuiltContext, cite: boolean): ChatCompletion {
  const { total: _total, ...sections } = context.tokens;
  return {
    ...completion,
    usage: completion.usage ? { ...completion.usage, context: sections } : completion.usage,
    context: {
      items: context.retrieved,
      history: { turns: context.historyTurns, ...context.historyRange },
    },
    ...(cite ? { citations: citationsOf(context) } : {}),
  } as ChatCompletion;
}
