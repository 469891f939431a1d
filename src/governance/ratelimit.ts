import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { throttledWarn } from '../observability/logger.js';
import { inSpan, setSpanAttributes } from '../observability/tracing.js';

/**
 * Requests and tokens per minute, per API key, per tenant and per model alias. A sliding window
 * approximated from two fixed one-minute windows (the previous one weighted by how much of it the
 * sliding minute still covers): O(1) memory per limit, no burst of twice the limit at a minute's
 * edge. With Redis every gateway shares the counters, checked and counted in one Lua script (one
 * round trip, atomic); without Redis (or while it is down) each process counts for itself.
 *
 * A request is admitted when every requests-limit has room for one more and every tokens-limit is
 * not yet used up; tokens are counted after the answer (they are not known before), so the request
 * that crosses a tokens limit finishes and the next ones wait.
 */

export type LimitKind = 'requests' | 'tokens';

export interface Limit {
  /** Whose counter: `key:<id>`, `tenant:<id>`, `model:<alias>`. */
  scope: string;
  kind: LimitKind;
  /** Per minute. */
  limit: number;
  /** Names the limit in a refusal: "requests per minute of this API key". */
  label: string;
}

export interface LimitState {
  limit: Limit;
  /** What the sliding minute has used, this request included when admitted. */
  used: number;
  remaining: number;
  /** Milliseconds until the window has room again (0 when it has). */
  resetMs: number;
}

export interface Admission {
  ok: boolean;
  /** The first limit that refused, when one did. */
  denied?: LimitState;
  /** Every limit's state, for the x-ratelimit-* headers. */
  states: LimitState[];
}

export const WINDOW_MS = 60_000;
const CHARGE_FLUSH_MS = 100;
// Counters outlive two windows: the current and the one it is weighed against.
const TTL_MS = 2 * WINDOW_MS + 5_000;

// KEYS: per limit, the current and the previous window's counter. ARGV: admit (1: count one request
// on every requests-limit if all pass), weight of the previous window, then per limit: limit, 1 for
// a requests-limit. Returns {admitted, cur1, prev1, cur2, prev2, …} (before this request's count).
const ADMIT = `
local weight = tonumber(ARGV[2])
local n = #KEYS / 2
local out = {0}
local ok = 1
for i = 1, n do
  local cur = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local limit = tonumber(ARGV[1 + 2 * i])
  local isreq = ARGV[2 + 2 * i] == '1'
  local used = prev * weight + cur
  if (isreq and used + 1 > limit) or ((not isreq) and used >= limit) then ok = 0 end
  out[2 * i] = cur
  out[2 * i + 1] = prev
end
if ok == 1 and ARGV[1] == '1' then
  for i = 1, n do
    if ARGV[2 + 2 * i] == '1' then
      redis.call('INCR', KEYS[2 * i - 1])
      redis.call('PEXPIRE', KEYS[2 * i - 1], ${TTL_MS})
    end
  end
end
out[1] = ok
return out`;

type ScriptedRedis = Redis & { rlAdmit(...args: (string | number)[]): Promise<number[]> };

export interface RateLimiter {
  /** Checks every limit and, when all pass, counts the request. Never throws. */
  admit(limits: readonly Limit[]): Promise<Admission>;
  /** Counts a finished request's tokens against its tokens-limits (off the request path; shared within 100 ms). */
  charge(limits: readonly Limit[], tokens: number): void;
  close(): Promise<void>;
}

export function createRateLimiter(opts: { redis?: { url: string; keyPrefix: string; commandTimeoutMs: number } | undefined; log: Logger; now?: () => number }): RateLimiter {
  const now = opts.now ?? Date.now;
  const local = new Map<string, number>();
  const redis = opts.redis
    ? (new Redis(opts.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: opts.redis.commandTimeoutMs, connectTimeout: 2000 }) as ScriptedRedis)
    : undefined;
  redis?.on('error', () => {});
  redis?.defineCommand('rlAdmit', { lua: ADMIT });
  const prefix = opts.redis?.keyPrefix ?? '';
  const failed = throttledWarn(opts.log, 'rate limits: Redis failed; counting in this process until it is back');
  let sweep = 0;

  // Tokens charged since the last flush, per counter: added to Redis in one MULTI every CHARGE_FLUSH_MS
  // rather than one round trip per request (a tokens limit then lags by at most that much).
  const pending = new Map<string, number>();
  const flushCharges = async (): Promise<void> => {
    if (!redis || pending.size === 0) return;
    const batch = [...pending];
    pending.clear();
    const multi = redis.multi();
    for (const [key, n] of batch) multi.incrby(key, n).pexpire(key, TTL_MS);
    await multi.exec().catch((err: unknown) => {
      failed({ err: (err as Error).message });
      for (const [key, n] of batch) local.set(key, (local.get(key) ?? 0) + n);
    });
  };
  const flusher = setInterval(() => void flushCharges(), CHARGE_FLUSH_MS);
  flusher.unref();

  // The hash tag keeps a limit's two windows in one Redis Cluster slot.
  const keyOf = (l: Limit, window: number): string => `${prefix}rl:{${l.scope}:${l.kind}}:${window}`;

  function state(l: Limit, cur: number, prev: number, weight: number, elapsed: number, admitted: boolean): LimitState {
    const counted = admitted && l.kind === 'requests' ? 1 : 0;
    const used = prev * weight + cur + counted;
    const need = l.kind === 'requests' ? 1 : 0;
    let resetMs = 0;
    if (used + need > l.limit || (l.kind === 'tokens' && used >= l.limit)) {
      const room = l.limit - need;
      if (cur + counted > room) {
        // Wait for this window to end, then for the share of it still covered to fall under the limit.
        const c = cur + counted;
        resetMs = WINDOW_MS - elapsed + (c > 0 ? Math.max(0, WINDOW_MS * (1 - room / c)) : 0);
      } else if (prev > 0) {
        resetMs = Math.max(0, WINDOW_MS * (1 - (room - cur - counted) / prev) - elapsed);
      }
    }
    return { limit: l, used, remaining: Math.max(0, Math.floor(l.limit - used)), resetMs: Math.ceil(resetMs) };
  }

  function admitLocally(limits: readonly Limit[], window: number, weight: number, elapsed: number): Admission {
    const counts = limits.map((l) => [local.get(keyOf(l, window)) ?? 0, local.get(keyOf(l, window - 1)) ?? 0] as const);
    const ok = limits.every((l, i) => {
      const [cur, prev] = counts[i] as readonly [number, number];
      const used = prev * weight + cur;
      return l.kind === 'requests' ? used + 1 <= l.limit : used < l.limit;
    });
    if (ok) for (const l of limits) if (l.kind === 'requests') local.set(keyOf(l, window), (local.get(keyOf(l, window)) ?? 0) + 1);
    // Counters of windows before the previous one are dropped now and then.
    if (++sweep % 1000 === 0) for (const k of local.keys()) if (!k.endsWith(`:${window}`) && !k.endsWith(`:${window - 1}`)) local.delete(k);
    return verdict(limits, counts, ok, weight, elapsed);
  }

  function verdict(limits: readonly Limit[], counts: ReadonlyArray<readonly [number, number]>, ok: boolean, weight: number, elapsed: number): Admission {
    const states = limits.map((l, i) => state(l, (counts[i] as readonly [number, number])[0], (counts[i] as readonly [number, number])[1], weight, elapsed, ok));
    if (ok) return { ok, states };
    const denied = states.find((s) => (s.limit.kind === 'requests' ? s.used + 1 > s.limit.limit : s.used >= s.limit.limit));
    return denied ? { ok, states, denied } : { ok, states };
  }

  /** Checks every limit (not empty) and, when all pass, counts the request. Never throws. */
  async function admitNow(limits: readonly Limit[]): Promise<Admission> {
    const t = now();
    const window = Math.floor(t / WINDOW_MS);
    const elapsed = t - window * WINDOW_MS;
    const weight = (WINDOW_MS - elapsed) / WINDOW_MS;
    if (redis) {
      try {
        const keys = limits.flatMap((l) => [keyOf(l, window), keyOf(l, window - 1)]);
        const args = limits.flatMap((l) => [l.limit, l.kind === 'requests' ? 1 : 0]);
        const res = await redis.rlAdmit(keys.length, ...keys, 1, weight, ...args);
        const counts = limits.map((_, i) => [Number(res[1 + 2 * i]), Number(res[2 + 2 * i])] as const);
        return verdict(limits, counts, res[0] === 1, weight, elapsed);
      } catch (err) {
        failed({ err: (err as Error).message });
      }
    }
    return admitLocally(limits, window, weight, elapsed);
  }

  return {
    async admit(limits) {
      if (limits.length === 0) return { ok: true, states: [] };
      return inSpan('rate_limit', { 'gateway.limits': limits.length, 'gateway.limits.store': redis ? 'redis' : 'local' }, async (span) => {
        const admission = await admitNow(limits);
        setSpanAttributes(span, { 'gateway.limits.admitted': admission.ok, 'gateway.limits.denied': admission.denied ? `${admission.denied.limit.scope.split(':')[0]}.${admission.denied.limit.kind}` : undefined });
        return admission;
      });
    },

    charge(limits, tokens) {
      if (tokens <= 0) return;
      const window = Math.floor(now() / WINDOW_MS);
      for (const l of limits) {
        if (l.kind !== 'tokens') continue;
        const key = keyOf(l, window);
        if (!redis) local.set(key, (local.get(key) ?? 0) + tokens);
        else pending.set(key, (pending.get(key) ?? 0) + tokens);
      }
    },

    async close() {
      clearInterval(flusher);
      await flushCharges();
      redis?.disconnect();
    },
  };
}

/** A duration the way OpenAI's x-ratelimit-reset-* headers write it: "20ms", "1s", "6m0s". */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}
