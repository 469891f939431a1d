import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
  const requests = new Counter({
    name: 'gateway_http_requests_total',
    help: 'HTTP requests by route (the matched path template), method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'Time to the end of the response (a stream: its last chunk), by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const stageSeconds = new Histogram({
    name: 'gateway_stage_duration_seconds',
    help: 'Time spent in each stage of a chat request: limits (rate limits and quotas), context (assembly and retrieval), cache (lookup), upstream (until the answer or the first chunk), persist (the transcript write).',
    labelNames: ['stage'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const costUsd = new Counter({
    name: 'gateway_cost_usd_total',
    help: 'Upstream cost of answered requests by model alias (from the price table).',
    labelNames: ['alias'] as const,
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Failed upstream attempts by provider, target model and error code (retried or not).',
    labelNames: ['provider', 'model', 'code'] as const,
    registers: [registry],
  });
  /** Queue depth per job kind and state, read from the queue when scraped. */
  const watchQueue = (counts: () => Promise<Record<string, Record<string, number>>>): void => {
    new Gauge({
      name: 'gateway_jobs',
      help: 'Background jobs by kind and state (waiting, active, delayed, failed…), read at scrape time.',
      labelNames: ['kind', 'state'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const all = await counts().catch(() => ({}) as Record<string, Record<string, number>>);
        for (const [kind, states] of Object.entries(all)) for (const [state, n] of Object.entries(states)) this.set({ kind, state }, n);
      },
    });
  };
  return { registry, cacheLookups, cacheSavedTokens, cacheSavedCost, cacheStores, upstreamTokens, requests, requestSeconds, stageSeconds, costUsd, upstreamErrors, watchQueue };
}

export type Metrics = ReturnType<typeof createMetrics>;
