import type { PreparedChat } from '../chat/service.js';
import type { Config } from '../config/schema.js';
import type { Embedder } from '../embeddings/port.js';
import { asGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { throttledWarn } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { inSpan, setSpanAttributes } from '../observability/tracing.js';
import type { ChatCompletion, Usage } from '../providers/types.js';
import { getTokenizer } from '../tokens/tokenizer.js';
import type { PriceTable } from '../usage/prices.js';
import { modelCollection } from '../vector/naming.js';
import type { CollectionSpec, VectorStore } from '../vector/port.js';
import { guardMatch } from './guard.js';
import { type CacheKey, cacheKey } from './key.js';
import { type CacheControl, type CacheSettings, createCachePolicy } from './policy.js';
import type { CacheEntry, CacheStore, EntryFilter } from './store.js';

export type CacheKind = 'exact' | 'semantic';

/**
 * What the cache made of one request. `status`: `hit` (answered from `hit`), `miss` (ask the
 * upstream, then `save`), `refresh` (Cache-Control: no-cache: ask the upstream, then `save` over
 * the old entry), `off` (disabled, or no-store: neither look up nor store), `skip` (the request
 * cannot be cached: `reason` says why).
 */
export interface CacheLookup {
  status: 'hit' | 'miss' | 'refresh' | 'off' | 'skip';
  reason?: string;
  hit?: { entry: CacheEntry; kind: CacheKind; similarity: number };
  key?: CacheKey;
  settings?: CacheSettings;
  /** Parts of the cache that failed during the lookup (the request went on without them). */
  degraded?: string[];
  /** Near neighbours the guard turned away (semantic lookups). */
  guarded?: number;
}

/** Candidates a semantic lookup considers: the best that passes the threshold and the guard answers. */
const SEMANTIC_CANDIDATES = 3;
/** Entries removed per batch when purging or sweeping. */
const REMOVE_BATCH = 1000;
/**
 * Saves in flight at most: each may wait for an embedding, and under a burst of misses the
 * embedder falls behind. Past it new answers are not stored (counted as `dropped`), so memory stays
 * bounded and the embedder serves requests first.
 */
const MAX_PENDING_SAVES = 256;

/**
 * The response cache: an exact lookup by the normalised upstream request, then a semantic lookup of
 * the last user message among entries of the same scope (key.ts), each hit checked by the guard.
 * Every failure of a part (Redis, SQL, the vector store, the embedder) makes that lookup a miss and
 * is reported in `degraded`: the cache can slow a request down, never fail it.
 */
export function createResponseCache(deps: {
  config: Config;
  store: CacheStore;
  vectors: VectorStore;
  embedder: Pick<Embedder, 'model' | 'dimensions'>;
  metrics: Metrics;
  prices: PriceTable;
  log: Logger;
}) {
  const { config, store, vectors, metrics } = deps;
  const policy = createCachePolicy(config);
  const spec: CollectionSpec = modelCollection('cache', deps.embedder, ['scope']);
  const failed = throttledWarn(deps.log, 'cache: a part failed; the request went on without it');
  const pending = new Set<Promise<void>>();
  let ready: Promise<unknown> | undefined;
  const ensure = (): Promise<unknown> => {
    ready ??= vectors.ensureCollection(spec).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };

  function degrade(out: CacheLookup, part: string, err: unknown): void {
    out.degraded = [...(out.degraded ?? []), part];
    failed({ part, err: asGatewayError(err).message });
  }

  function fresh(entry: CacheEntry, control: CacheControl): boolean {
    return control.maxAgeSeconds === undefined || Date.now() - entry.createdAt <= control.maxAgeSeconds * 1000;
  }

  async function semantic(tenantId: string, key: CacheKey, settings: CacheSettings, control: CacheControl, queryVector: () => Promise<Float32Array>, out: CacheLookup): Promise<CacheLookup['hit']> {
    // The embedding starts at once: a miss stores it too, so it is rarely wasted.
    const embedding = queryVector();
    embedding.catch(() => {});
    try {
      // No entry in this scope (a new system prompt, a session's new state): nothing to search.
      if (!(await store.hasScope(tenantId, key.scope))) return undefined;
    } catch (err) {
      degrade(out, 'sql', err);
      return undefined;
    }
    let hits: Awaited<ReturnType<VectorStore['search']>>;
    try {
      const vector = await embedding.catch((err: unknown) => {
        degrade(out, 'embedder', err);
        throw err;
      });
      await ensure();
      hits = await vectors.search({ collection: spec.name, tenantId, vector, topK: SEMANTIC_CANDIDATES, filter: { scope: key.scope } });
    } catch (err) {
      if (!out.degraded?.includes('embedder')) degrade(out, 'vectors', err);
      metrics.cacheLookups.inc({ kind: 'semantic', result: 'error' });
      return undefined;
    }
    for (const h of hits) {
      if (h.score < settings.threshold) break;
      let entry: CacheEntry | undefined;
      try {
        entry = await store.get(tenantId, h.id);
      } catch (err) {
        degrade(out, 'sql', err);
        break;
      }
      // Expired or removed since it was indexed: the sweep takes its vector away.
      if (!entry || !fresh(entry, control)) continue;
      if (config.cache.guard && !guardMatch(key.query, entry.query).ok) {
        out.guarded = (out.guarded ?? 0) + 1;
        continue;
      }
      return { entry, kind: 'semantic', similarity: Math.min(1, h.score) };
    }
    return undefined;
  }

  /** Removes matching entries with their vectors, in batches; returns how many went. */
  async function remove(filter: EntryFilter & { limit?: number }): Promise<number> {
    const removed = await store.remove(filter);
    const byTenant = new Map<string, string[]>();
    for (const r of removed) {
      const ids = byTenant.get(r.tenantId);
      if (ids) ids.push(r.id);
      else byTenant.set(r.tenantId, [r.id]);
    }
    if (byTenant.size > 0) await ensure();
    for (const [tenantId, ids] of byTenant) {
      for (let i = 0; i < ids.length; i += REMOVE_BATCH) await vectors.delete({ collection: spec.name, tenantId, ids: ids.slice(i, i + REMOVE_BATCH) });
    }
    return removed.length;
  }

  async function write(tenantId: string, prepared: PreparedChat, lookup: CacheLookup, completion: ChatCompletion, vector: Promise<Float32Array> | undefined): Promise<void> {
    const key = lookup.key as CacheKey;
    const settings = lookup.settings as CacheSettings;
    const usage = completion.usage;
    const tokenizer = getTokenizer(prepared.resolved.info.encoding);
    const now = Date.now();
    const entry: CacheEntry = {
      tenantId,
      id: key.id,
      alias: prepared.resolved.alias,
      scope: key.scope,
      query: key.query,
      // The upstream's answer as it came, without this request's gateway extensions.
      response: completion,
      promptTokens: usage?.prompt_tokens ?? prepared.context?.tokens.total ?? 0,
      completionTokens: usage?.completion_tokens ?? tokenizer.count(completion.choices[0]?.message.content ?? ''),
      collections: prepared.context?.retrieval.documents.ids ?? [],
      userId: memoryScope(prepared).userId ?? null,
      sessionId: prepared.session?.id ?? null,
      createdAt: now,
      expiresAt: now + settings.ttlSeconds * 1000,
    };
    await store.put(entry);
    if (vector) {
      await ensure();
      await vectors.upsert({ collection: spec.name, tenantId, points: [{ id: entry.id, vector: await vector, payload: { scope: key.scope } }] });
    }
  }

  /** Looks the request up; never throws (a failing part is a miss, named in `degraded`). */
  async function find(tenantId: string, prepared: PreparedChat, control: CacheControl): Promise<CacheLookup> {
    const alias = prepared.resolved.alias;
    const settings = policy.settings(tenantId, alias);
    if (!settings.enabled) return { status: 'off', reason: 'the cache is off for this tenant or model' };
    if (control.noStore) return { status: 'off', reason: 'Cache-Control: no-store' };
    if (prepared.session && !config.cache.sessions) return { status: 'skip', reason: 'session requests are not cached (cache.sessions)' };
    const refusal = policy.refusal(prepared.body);
    if (refusal) return { status: 'skip', reason: refusal };
    const key = cacheKey(alias, prepared.body, memoryScope(prepared), config.cache.maxSemanticChars);
    if ('skip' in key) return { status: 'skip', reason: key.skip };
    const out: CacheLookup = { status: 'miss', key, settings };
    if (control.noCache) return { ...out, status: 'refresh' };

    try {
      const entry = await store.get(tenantId, key.id);
      const hit = entry && fresh(entry, control);
      metrics.cacheLookups.inc({ kind: 'exact', result: hit ? 'hit' : 'miss' });
      if (entry && hit) return { ...out, status: 'hit', hit: { entry, kind: 'exact', similarity: 1 } };
    } catch (err) {
      metrics.cacheLookups.inc({ kind: 'exact', result: 'error' });
      degrade(out, 'sql', err);
    }
    if (!settings.semantic || !key.semantic) return out;
    const found = await semantic(tenantId, key, settings, control, prepared.queryVector, out);
    if (!out.degraded?.some((p) => p === 'vectors' || p === 'embedder')) metrics.cacheLookups.inc({ kind: 'semantic', result: found ? 'hit' : 'miss' });
    return found ? { ...out, status: 'hit', hit: found } : out;
  }

  return {
    spec,

    /** Looks the request up (under a `cache.lookup` trace span); never throws (a failing part is a miss, named in `degraded`). */
    lookup(tenantId: string, prepared: PreparedChat, control: CacheControl): Promise<CacheLookup> {
      return inSpan('cache.lookup', undefined, async (span) => {
        const out = await find(tenantId, prepared, control);
        // kind: the hit's, else the deepest lookup made (semantic when the request could hit semantically).
        const kind = out.hit?.kind ?? (out.status === 'miss' && out.key ? (out.key.semantic && out.settings?.semantic ? 'semantic' : 'exact') : undefined);
        setSpanAttributes(span, { 'cache.result': out.status, 'cache.kind': kind, 'cache.degraded': out.degraded?.join(',') });
        return out;
      });
    },

    /** Counts a hit and what it saved (tokens, and cost for a model with a price). */
    recordHit(lookup: CacheLookup): void {
      const hit = lookup.hit;
      if (!hit) return;
      store.recordHit(hit.entry.tenantId, hit.entry.id);
      metrics.cacheSavedTokens.inc({ direction: 'prompt' }, hit.entry.promptTokens);
      metrics.cacheSavedTokens.inc({ direction: 'completion' }, hit.entry.completionTokens);
      const cost = savedCost(hit.entry);
      if (cost > 0) metrics.cacheSavedCost.inc(cost);
    },

    /**
     * Stores the upstream's complete answer to a missed or refreshed request, off the response
     * path. Only whole, final answers are kept: one choice that stopped (or hit its token limit),
     * with text content and no tool calls. Failures are logged and counted, never raised.
     */
    save(tenantId: string, prepared: PreparedChat, lookup: CacheLookup, completion: ChatCompletion): void {
      if ((lookup.status !== 'miss' && lookup.status !== 'refresh') || !lookup.key) return;
      const choice = completion.choices?.[0];
      if (completion.choices?.length !== 1 || !choice) return;
      if (choice.finish_reason !== 'stop' && choice.finish_reason !== 'length') return;
      if (typeof choice.message?.content !== 'string' || choice.message.content === '' || (choice.message.tool_calls?.length ?? 0) > 0) return;
      if (pending.size >= MAX_PENDING_SAVES) {
        metrics.cacheStores.inc({ result: 'dropped' });
        return;
      }
      const settings = lookup.settings as CacheSettings;
      const vector = settings.semantic && lookup.key.semantic ? prepared.queryVector() : undefined;
      const p = inSpan('cache.save', { 'cache.semantic': vector !== undefined }, () => write(tenantId, prepared, lookup, completion, vector)).then(
        () => {
          metrics.cacheStores.inc({ result: 'stored' });
        },
        (err: unknown) => {
          metrics.cacheStores.inc({ result: 'failed' });
          failed({ part: 'store', err: asGatewayError(err).message });
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },

    /**
     * Forgets the entries built from a source that changed (a collection's documents, a user's
     * memories, a deleted session), off the caller's path. Keys hash the assembled prompt, so a
     * changed source already makes new requests miss; this removes what can no longer be reached
     * and what must not be kept (a forgotten user's answers). A failure is logged; the entries then
     * leave at their expiry.
     */
    invalidate(filter: Pick<EntryFilter, 'tenantId' | 'collectionId' | 'userId' | 'sessionId'> & { tenantId: string }): void {
      const p = remove(filter).then(
        () => undefined,
        (err: unknown) => deps.log.warn({ err: asGatewayError(err).message, ...filter }, 'cache: entries of a changed source not removed; they leave at their expiry'),
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },

    /** Resolves once every save and invalidation started so far has finished (tests, shutdown). */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },

    /** Removes entries (purge, invalidation); returns how many. Throws when SQL or the vector store fails. */
    remove,

    /** Deletes expired entries and their vectors, a batch at a time. */
    async sweep(): Promise<number> {
      let total = 0;
      for (;;) {
        const n = await remove({ expired: true, limit: REMOVE_BATCH });
        total += n;
        if (n < REMOVE_BATCH) return total;
      }
    },

    top: store.top,

    savedCost,

    /** The usage a hit reports: no upstream tokens, and what the entry saved. */
    hitUsage(lookup: CacheLookup): Usage {
      const hit = lookup.hit as NonNullable<CacheLookup['hit']>;
      const e = hit.entry;
      return {
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cache: { kind: hit.kind, entry_id: e.id, similarity: round(hit.similarity), saved: { prompt_tokens: e.promptTokens, completion_tokens: e.completionTokens, cost_usd: savedCost(e) } },
      };
    },
  };

  /** What the upstream call a hit replaces would have cost: the entry's tokens at its model's price. */
  function savedCost(e: CacheEntry): number {
    return deps.prices.cost(deps.prices.of(e.alias, e.response.model), { prompt: e.promptTokens, cached: 0, completion: e.completionTokens });
  }
}

export type ResponseCache = ReturnType<typeof createResponseCache>;

/**
 * Whose memory the prompt drew on: the session's, and the user's when the context was assembled
 * for a request with a `user` (facts, user-wide episodic memory).
 */
export function memoryScope(prepared: PreparedChat): { sessionId?: string | undefined; userId?: string | undefined } {
  return { sessionId: prepared.session?.id, userId: prepared.context ? prepared.userId : undefined };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
