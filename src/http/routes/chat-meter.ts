import type { StreamAccumulator } from '../../chat/accumulate.js';
import type { PreparedChat } from '../../chat/service.js';
import type { Limit, RateLimiter } from '../../governance/ratelimit.js';
import type { Capture } from '../../observability/capture.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ChatCompletion, ChatMessage } from '../../providers/types.js';
import { getTokenizer, REPLY_PRIMING_TOKENS, type Tokenizer } from '../../tokens/tokenizer.js';
import type { PriceTable } from '../../usage/prices.js';
import type { UsageRecorder } from '../../usage/recorder.js';
import type { RequestContext } from '../request-context.js';

/** What one chat request used, filled in as it goes and written as a usage row when the response has ended. */
export interface Metered {
  prepared?: PreparedChat;
  target?: { provider: string; model: string };
  /**
   * What the upstream answered, read when the row is written: its usage, or else its text, counted by
   * the tokenizer (no usage reported, or the client left mid-stream). Objects, not closures: a
   * closure stored on this object outlived the request by two scavenges (promoted to old space).
   */
  completion?: ChatCompletion;
  /** A stream's accumulator: what was read of it so far. */
  stream?: StreamAccumulator;
  cache?: { kind: 'exact' | 'semantic'; savedUsd: number };
  /** The rate limits the request was admitted under: its tokens are counted against them at the end. */
  limits?: Limit[];
  /** The usage row's route: `chat`, or `prompt` for a prompt API run. */
  route?: string;
}

/**
 * The end of a chat request's accounting, once its response has ended (or its client left): the
 * usage row, the tokens charged against its rate limits, its cost in /metrics, and its capture when
 * the tenant asked for one.
 */
export function createMeter(deps: { prices: PriceTable; usage: UsageRecorder; limiter: RateLimiter; capture: Capture; metrics: Metrics }) {
  return (c: RequestContext, m: Metered, status: number): void => {
    const p = m.prepared;
    if (!p || c.principal?.kind !== 'key') return;
    const u = m.stream ? m.stream.usage() : m.completion?.usage;
    const tokenizer = getTokenizer(p.resolved.info.encoding);
    const upstream = m.target !== undefined && !m.cache;
    const prompt = !upstream ? 0 : (u?.prompt_tokens ?? p.context?.tokens.total ?? promptTokens(tokenizer, p.body.messages));
    const completion = !upstream ? 0 : (u?.completion_tokens ?? tokenizer.count(answerOf(m) ?? ''));
    const cached = Number((u?.prompt_tokens_details as { cached_tokens?: number } | undefined)?.cached_tokens ?? 0);
    const price = m.target ? deps.prices.of(p.resolved.alias, m.target.model) : undefined;
    const { total: _total, budget: _budget, ...sections } = p.context?.tokens ?? { total: 0, budget: 0 };
    if (m.limits) deps.limiter.charge(m.limits, prompt + completion);
    if (deps.capture.enabled(c.principal.tenantId)) deps.capture.record(c.principal.tenantId, c.id, p.body.messages, answerOf(m) ?? null);
    const cost = deps.prices.cost(price, { prompt, cached, completion });
    if (cost > 0) deps.metrics.costUsd.inc({ alias: p.resolved.alias }, cost);
    deps.usage.record({
      tenantId: c.principal.tenantId,
      requestId: c.id,
      keyId: c.principal.keyId,
      teamId: c.principal.teamId,
      userId: p.userId ?? null,
      sessionId: p.session?.id ?? null,
      route: m.route ?? 'chat',
      alias: p.resolved.alias,
      provider: m.target?.provider ?? null,
      model: m.target?.model ?? null,
      promptTokens: prompt,
      cachedTokens: cached,
      completionTokens: completion,
      contextTokens: p.context ? sections : null,
      cache: m.cache?.kind ?? null,
      costUsd: cost,
      savedUsd: m.cache?.savedUsd ?? 0,
      latencyMs: Math.round((performance.now() - c.startedAt) * 100) / 100,
      status,
      errorCode: typeof c.logFields.code === 'string' ? c.logFields.code : null,
      at: new Date(),
    });
  };
}

/** The answer's text (choice 0's content), when there was an answer. */
function answerOf(m: Metered): string | undefined {
  if (m.stream) return m.stream.text();
  return m.completion ? contentOf(m.completion.choices?.[0]?.message?.content) : undefined;
}

function promptTokens(tokenizer: Tokenizer, messages: readonly ChatMessage[]): number {
  let n = REPLY_PRIMING_TOKENS;
  for (const m of messages) n += tokenizer.countMessage(m);
  return n;
}

export function contentOf(content: unknown): string {
  return typeof content === 'string' ? content : '';
}
