import type { Config, TargetConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors.js';
import { inSpan } from '../../observability/tracing.js';
import { lookupModel, type ModelInfo } from '../../tokens/models.js';
import { type CancelSignal, Canceller, delay } from '../cancel.js';
import { transportError, UPSTREAM_CODES } from '../http.js';
import type { LlmProvider } from '../types.js';
import { backoffMs, isTransient } from './retry.js';

export interface Target {
  provider: string;
  model: string;
  /** 0 = never drawn first: only a fallback (when other targets carry weights). */
  weight: number;
  timeoutMs: number;
  retries: number;
  /** Quality tier, 1 best. */
  tier: number;
  /** USD per million input + output tokens (0 when unpriced, e.g. a local model): what `cheapest` sorts by. */
  price: number;
}

export interface ResolvedModel {
  alias: string;
  targets: readonly Target[];
  /** `ordered`: the configured order and weights; `cheapest`: by price within each tier. */
  strategy: 'ordered' | 'cheapest';
  /** Share of a USD quota past which the cheapest target goes first (undefined: never). */
  budgetThreshold: number | undefined;
  /** Window and encoding of the model (config first, then the registry, for the first target). */
  info: ModelInfo;
  reservedCompletionTokens: number | undefined;
}

export interface Attempt<T> {
  result: T;
  target: Target;
  /** Attempts made in all, across targets (1 = first try succeeded). */
  attempts: number;
  /** The signal of the successful attempt: aborted on client disconnect or `abort`. */
  signal: CancelSignal;
  abort(reason: GatewayError): void;
  /** Unlinks the attempt from the client's signal; call once the response is finished. */
  dispose(): void;
}

export type AttemptFn<T> = (provider: LlmProvider, target: Target, signal: CancelSignal) => Promise<T>;

/**
 * Model aliases → ordered targets: tried in configured order, or, when weights are set, the first
 * drawn by weight and the rest following in order as fallbacks. Each target gets `retries` extra attempts on transient errors
 * (retry.ts), with jittered backoff, each attempt under the target's timeout; the client's
 * disconnect aborts whatever attempt is in flight and stops the loop.
 */
export function createRouter(deps: {
  config: Config;
  providers: ReadonlyMap<string, LlmProvider>;
  random?: () => number;
  /** Prices an upstream model for cost-aware routing (an unpriced one counts as free). */
  priceOf?: ((model: string) => { input: number; output: number } | undefined) | undefined;
  /** Told of every failed attempt (metrics: upstream errors by target). */
  onAttemptError?: ((target: Target, err: GatewayError) => void) | undefined;
}) {
  const { config, providers } = deps;
  const random = deps.random ?? Math.random;
  const toTarget = (t: TargetConfig): Target => {
    const price = deps.priceOf?.(t.model);
    return {
      provider: t.provider,
      model: t.model,
      weight: t.weight ?? 0,
      timeoutMs: t.timeoutMs ?? config.router.timeoutMs,
      retries: t.retries ?? config.router.retries,
      tier: t.tier ?? 1,
      price: price ? price.input + price.output : 0,
    };
  };

  const aliases = new Map<string, ResolvedModel>();
  for (const [alias, m] of Object.entries(config.models)) {
    const targets = m.targets.map(toTarget);
    const registry = lookupModel((targets[0] as Target).model);
    aliases.set(alias, {
      alias,
      targets,
      strategy: m.routing?.strategy ?? 'ordered',
      budgetThreshold: m.routing?.budgetThreshold,
      info: {
        contextWindow: m.contextWindow ?? registry.contextWindow,
        encoding: m.encoding ?? registry.encoding,
        exact: m.encoding !== undefined || registry.exact,
      },
      reservedCompletionTokens: m.reservedCompletionTokens,
    });
  }

  /** `alias`, or `provider/model` for any model of a configured provider. */
  function resolve(model: string): ResolvedModel {
    const hit = aliases.get(model);
    if (hit) return hit;
    const slash = model.indexOf('/');
    if (slash > 0 && providers.has(model.slice(0, slash))) {
      const direct = toTarget({ provider: model.slice(0, slash), model: model.slice(slash + 1) });
      const resolved: ResolvedModel = { alias: model, targets: [direct], strategy: 'ordered', budgetThreshold: undefined, info: lookupModel(direct.model), reservedCompletionTokens: undefined };
      aliases.set(model, resolved);
      return resolved;
    }
    throw new GatewayError(`The model "${model}" does not exist on this gateway; GET /v1/models lists the models you can use.`, {
      status: 404,
      code: 'model_not_found',
      category: 'client',
      param: 'model',
    });
  }

  /**
   * The order targets are tried in: cheapest first when the caller is `economy` (a budget past its
   * threshold); by tier then price for the `cheapest` strategy; otherwise as configured, the first
   * drawn by weight when targets carry weights. Sorts are stable: equal prices keep the configured order.
   */
  function order(resolved: ResolvedModel, economy: boolean): Target[] {
    const targets = resolved.targets;
    if (economy) return [...targets].sort((a, b) => a.price - b.price);
    if (resolved.strategy === 'cheapest') return [...targets].sort((a, b) => a.tier - b.tier || a.price - b.price);
    const total = targets.reduce((s, t) => s + t.weight, 0);
    if (targets.length < 2 || total === 0) return [...targets];
    let r = random() * total;
    let first = 0;
    for (let i = 0; i < targets.length; i++) {
      r -= (targets[i] as Target).weight;
      if (r < 0) {
        first = i;
        break;
      }
    }
    return [targets[first] as Target, ...targets.filter((_, i) => i !== first)];
  }

  async function run<T>(resolved: ResolvedModel, clientSignal: CancelSignal, fn: AttemptFn<T>, opts: { economy?: boolean } = {}): Promise<Attempt<T>> {
    let attempts = 0;
    let last: GatewayError | undefined;
    for (const target of order(resolved, opts.economy === true)) {
      const provider = providers.get(target.provider) as LlmProvider;
      for (let retry = 0; retry <= target.retries; retry++) {
        if (retry > 0) {
          const wait = backoffMs(retry - 1, { baseMs: config.router.backoffMs, maxMs: config.router.maxBackoffMs, retryAfterS: last?.retryAfter });
          await delay(wait, clientSignal);
        }
        if (clientSignal.aborted) throw transportError(clientSignal.reason, clientSignal);
        attempts++;
        const ac = new Canceller();
        const onClientAbort = (): void => ac.abort(clientSignal.reason);
        clientSignal.addEventListener('abort', onClientAbort, { once: true });
        const timer = setTimeout(() => ac.abort(timeoutError(target)), target.timeoutMs);
        const dispose = (): void => {
          clearTimeout(timer);
          clientSignal.removeEventListener('abort', onClientAbort);
        };
        try {
          // One trace span per attempt (a stream's ends when it starts); a no-op when the request is not traced.
          const span = { 'gateway.upstream.provider': target.provider, 'gateway.upstream.model': target.model, 'gateway.upstream.attempt': attempts };
          const result = await inSpan('upstream', span, () => fn(provider, target, ac.signal));
          clearTimeout(timer);
          return { result, target, attempts, signal: ac.signal, abort: (reason) => ac.abort(reason), dispose };
        } catch (err) {
          dispose();
          const e = transportError(err, ac.signal);
          if (e.code !== UPSTREAM_CODES.aborted) deps.onAttemptError?.(target, e);
          if (e.code === UPSTREAM_CODES.aborted || !isTransient(e)) throw e;
          last = e;
        }
      }
    }
    throw exhausted(resolved.alias, attempts, last as GatewayError);
  }

  return {
    resolve,
    run,
    /** Aliases for GET /v1/models. */
    aliases: (): string[] => Object.keys(config.models),
  };
}

export type Router = ReturnType<typeof createRouter>;

function timeoutError(target: Target): GatewayError {
  return new GatewayError(`The upstream ${target.provider} did not answer within ${target.timeoutMs} ms.`, {
    status: 504,
    code: UPSTREAM_CODES.timeout,
    category: 'upstream',
  });
}

/** After every target failed: the last failure decides the status (504 timeout, 503 otherwise). */
function exhausted(alias: string, attempts: number, last: GatewayError): GatewayError {
  const status = last.code === UPSTREAM_CODES.timeout ? 504 : last.code === UPSTREAM_CODES.rateLimited ? 503 : last.status === 504 ? 504 : 502;
  return new GatewayError(`All upstreams for "${alias}" failed after ${attempts} attempt(s); last: ${last.message}`, {
    status,
    code: last.code,
    category: 'upstream',
    details: { attempts },
    cause: last,
    ...(last.retryAfter !== undefined ? { retryAfter: last.retryAfter } : {}),
  });
}
