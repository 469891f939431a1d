import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { GatewayError } from '../../src/errors.js';
import { UPSTREAM_CODES } from '../../src/providers/http.js';
import { backoffMs, isTransient } from '../../src/providers/router/retry.js';
import { createRouter } from '../../src/providers/router/router.js';
import type { LlmProvider } from '../../src/providers/types.js';

const err = (code: string, status = 502) => new GatewayError('x', { status, code, category: 'upstream' });

describe('retry predicate', () => {
  it('retries transient failures only', () => {
    for (const code of [UPSTREAM_CODES.timeout, UPSTREAM_CODES.unavailable, UPSTREAM_CODES.rateLimited, UPSTREAM_CODES.serverError, UPSTREAM_CODES.badResponse]) {
      expect(isTransient(err(code))).toBe(true);
    }
    expect(isTransient(err(UPSTREAM_CODES.rejected, 400))).toBe(false);
    expect(isTransient(err(UPSTREAM_CODES.aborted, 499))).toBe(false);
    expect(isTransient(err('internal_error', 500))).toBe(false);
  });

  it('backs off with full jitter, bounded, and honours a short Retry-After', () => {
    expect(backoffMs(0, { baseMs: 100, maxMs: 1000 }, () => 0.999)).toBe(99);
    expect(backoffMs(3, { baseMs: 100, maxMs: 1000 }, () => 0.999)).toBe(799);
    expect(backoffMs(10, { baseMs: 100, maxMs: 1000 }, () => 0.999)).toBe(999);
    expect(backoffMs(2, { baseMs: 100, maxMs: 1000 }, () => 0)).toBe(0);
    expect(backoffMs(0, { baseMs: 100, maxMs: 1000, retryAfterS: 0.5 })).toBe(500);
    expect(backoffMs(0, { baseMs: 100, maxMs: 1000, retryAfterS: 30 }, () => 0.5)).toBe(50);
  });
});

describe('router', () => {
  const provider: LlmProvider = { kind: 'openai', complete: async () => ({}) as never, stream: async () => (async function* () {})() };
  const providers = new Map([
    ['a', provider],
    ['b', provider],
  ]);
  const config = (weights: Array<number | undefined>) =>
    loadConfig(
      {},
      {
        providers: { a: { kind: 'openai', baseUrl: 'http://a/v1' }, b: { kind: 'openai', baseUrl: 'http://b/v1' } },
        models: { m: { targets: weights.map((w, i) => ({ provider: i === 0 ? 'a' : 'b', model: `m${i}`, ...(w ? { weight: w } : {}) })), contextWindow: 1000 }, gpt: { targets: [{ provider: 'a', model: 'gpt-4o' }] } },
      },
    );

  it('resolves aliases with their window and encoding, and provider/model directly', () => {
    const r = createRouter({ config: config([undefined, undefined]), providers });
    expect(r.resolve('m').info.contextWindow).toBe(1000);
    expect(r.resolve('gpt').info).toMatchObject({ contextWindow: 128_000, encoding: 'o200k_base' });
    expect(r.resolve('b/llama3.1:8b').targets[0]).toMatchObject({ provider: 'b', model: 'llama3.1:8b' });
    expect(() => r.resolve('nope/x')).toThrow(/does not exist/);
  });

  it('tries targets in order without weights, and draws the first by weight with them', async () => {
    const firstModel = async (weights: Array<number | undefined>, random: number) => {
      const r = createRouter({ config: config(weights), providers, random: () => random });
      const seen: string[] = [];
      await r.run(r.resolve('m'), new AbortController().signal, async (_p, t) => {
        seen.push(t.model);
        return 'ok';
      });
      return seen[0];
    };
    expect(await firstModel([undefined, undefined], 0.99)).toBe('m0');
    expect(await firstModel([1, 3], 0.2)).toBe('m0');
    expect(await firstModel([1, 3], 0.3)).toBe('m1');
  });

  it('stops at once when the client aborts', async () => {
    const r = createRouter({ config: config([undefined, undefined]), providers });
    const ac = new AbortController();
    let calls = 0;
    const p = r.run(r.resolve('m'), ac.signal, async (_p, _t, signal) => {
      calls++;
      ac.abort();
      throw signal.reason;
    });
    await expect(p).rejects.toMatchObject({ code: UPSTREAM_CODES.aborted });
    expect(calls).toBe(1);
  });
});
