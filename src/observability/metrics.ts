import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The gateway's Prometheus metrics (prom-client), one registry per gateway so tests can run several
 * in one process. Served at GET /metrics. Labels are bounded sets (kinds, results, aliases from the
 * config), never tenants, users or free text.
 */
export function createMetrics() {
  const registry = new Registry();
  const cacheLookups = new Counter({
    name: 'gateway_cache_lookups_total',
    help: 'Response cache lookups by kind (exact, semantic) and result (hit, miss, error).',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'gateway_cache_hit_ratio',
    help: 'Share of lookups of each kind answered from the cache since start.',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const { values } = await cacheLookups.get();
      for (const kind of ['exact', 'semantic']) {
        let hits = 0;
        let all = 0;
        for (const v of values) {
          if (v.labels.kind !== kind) continue;
          all += v.value;
          if (v.labels.result === 'hit') hits += v.value;
        }
        this.set({ kind }, all === 0 ? 0 : hits / all);
      }
    },
  });
  const cacheSavedTokens = new Counter({
    name: 'gateway_cache_saved_tokens_total',
    help: 'Upstream tokens not spent because the cache answered, by direction (prompt, completion).',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const cacheSavedCost = new Counter({
    name: 'gateway_cache_saved_cost_usd_total',
    help: 'Upstream cost not spent because the cache answered (models with a price in the config).',
    registers: [registry],
  });
  const cacheStores = new Counter({
    name: 'gateway_cache_stores_total',
    help: 'Answers written to the cache (stored), writes that failed, and answers not stored because too many writes were in flight (dropped).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const upstreamTokens = new Counter({
    name: 'gateway_upstream_tokens_total',
    help: 'Tokens reported by upstreams, by model alias and direction (prompt, completion).',
    labelNames: ['alias', 'direction'] as const,
    registers: [registry],
  });
  return { registry, cacheLookups, cacheSavedTokens, cacheSavedCost, cacheStores, upstreamTokens };
}

export type Metrics = ReturnType<typeof createMetrics>;
