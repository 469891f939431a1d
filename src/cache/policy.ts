import type { Config } from '../config/schema.js';
import type { ChatRequest } from '../providers/types.js';

/** The cache settings that apply to one tenant and model alias: the defaults, the tenant's, then the alias's. */
export interface CacheSettings {
  enabled: boolean;
  ttlSeconds: number;
  semantic: boolean;
  threshold: number;
}

export function createCachePolicy(config: Config) {
  const memo = new Map<string, CacheSettings>();
  const c = config.cache;
  return {
    settings(tenantId: string, alias: string): CacheSettings {
      const key = `${tenantId}\u0000${alias}`;
      let s = memo.get(key);
      if (!s) {
        s = { enabled: c.enabled, ttlSeconds: c.ttlSeconds, semantic: c.semantic, threshold: c.threshold, ...c.tenants[tenantId], ...config.models[alias]?.cache };
        if (memo.size > 10_000) memo.clear();
        memo.set(key, s);
      }
      return s;
    },
    /** Why the answer to `body` must not be cached or served from the cache, if it must not. */
    refusal(body: ChatRequest): string | undefined {
      if ((body.n ?? 1) > 1) return 'n > 1';
      if ((body.temperature ?? 1) > c.maxTemperature) return `temperature above ${c.maxTemperature}`;
      if (body.logprobs === true) return 'logprobs requested';
      return undefined;
    },
  };
}

export type CachePolicy = ReturnType<typeof createCachePolicy>;

/** What the request's `Cache-Control` header asks of the cache. */
export interface CacheControl {
  /** `no-cache`: do not answer from the cache; store the fresh answer (a refresh). */
  noCache: boolean;
  /** `no-store`: neither look up nor store. */
  noStore: boolean;
  /** `max-age=N`: only an entry at most N seconds old may answer. */
  maxAgeSeconds?: number;
}

export function parseCacheControl(header: string | string[] | undefined): CacheControl {
  const out: CacheControl = { noCache: false, noStore: false };
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return out;
  for (const raw of text.split(',')) {
    const d = raw.trim().toLowerCase();
    if (d === 'no-cache') out.noCache = true;
    else if (d === 'no-store') out.noStore = true;
    else if (d.startsWith('max-age=')) {
      const n = Number(d.slice('max-age='.length));
      if (Number.isInteger(n) && n >= 0) out.maxAgeSeconds = n;
    }
  }
  return out;
}
