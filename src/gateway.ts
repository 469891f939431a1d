import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { type AppDeps, createApp } from './app.js';
import { createChatService } from './chat/service.js';
import type { Config } from './config/schema.js';
import { createContextPipeline } from './context/pipeline.js';
import { createEpisodicStage } from './context/stages/episodic.js';
import type { ContextStage } from './context/types.js';
import { createEmbedder } from './embeddings/factory.js';
import { createCollections } from './knowledge/collections.js';
import { createDocuments } from './knowledge/documents.js';
import { createIngestor } from './knowledge/ingestor.js';
import { createParser } from './knowledge/parse/pool.js';
import { createTransformersReranker } from './knowledge/rerank.js';
import { createChunkSearch } from './knowledge/search.js';
import { createKnowledgeScope } from './knowledge/scope.js';
import { createDocumentsStage } from './context/stages/documents.js';
import { createTurnIndexer, type TurnIndexer } from './memory/episodic/indexer.js';
import { createEpisodicSearch } from './memory/episodic/search.js';
import { createSessionMemory } from './memory/session-memory.js';
import { noShortTermStore, type ShortTermStore } from './memory/short-term/port.js';
import { createRedisShortTermStore } from './memory/short-term/redis.js';
import { createSummaryStore } from './memory/summaries/store.js';
import { createFactExtractor, EXTRACT_FACTS_JOB, factsKey } from './memory/facts/extractor.js';
import { createFactIndex } from './memory/facts/index.js';
import { createMemoryStore } from './memory/facts/store.js';
import { createFactsStage } from './context/stages/facts.js';
import { createSummarizer, SUMMARIZE_JOB, summaryKey } from './memory/summaries/summarizer.js';
import { createTranscript } from './memory/transcript.js';
import { createJobQueue } from './jobs/factory.js';
import { startJobKinds } from './jobs/kinds.js';
import { createProviders } from './providers/registry.js';
import { createRouter } from './providers/router/router.js';
import { migrate } from './store/migrate.js';
import { openSql } from './store/open.js';
import type { Sql } from './store/sql.js';
import { createAuthenticator } from './tenancy/auth.js';
import { createRevocationBus } from './tenancy/revocations.js';
import { createTenancyRepo } from './tenancy/repo.js';
import { getTokenizer } from './tokens/tokenizer.js';
import { createVectorStore } from './vector/factory.js';
import { createResponseCache } from './cache/cache.js';
import { createCacheStore } from './cache/store.js';
import { throttledWarn } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createCapture } from './observability/capture.js';
import { createPriceTable } from './usage/prices.js';
import { createUsageRecorder } from './usage/recorder.js';
import { createRateLimiter } from './governance/ratelimit.js';
import { createQuotas } from './governance/quotas.js';
import { createRedactor, maskMessage } from './governance/pii/index.js';
import type { ChatMessage } from './providers/types.js';
import { createPromptStore } from './prompts/store.js';
import type { VectorStore } from './vector/port.js';
import { createTtlMemo } from './memo.js';

/** How often a session past the summary trigger asks the queue for a summary job. */
const SUMMARY_ASK_MS = 2_000;

export interface Gateway {
  app: RequestListener;
  deps: AppDeps;
  /** Closes every adapter; each cleanup runs even when an earlier one throws. */
  close(): Promise<void>;
}

/**
 * Builds the adapters the config asks for, applies migrations, and wires the app. Shared by
 * main.ts and the tests, so what is tested is what runs. `sql` may be passed in (tests share one).
 */
export async function createGateway(config: Config, log: Logger, opts: { sql?: Sql } = {}): Promise<Gateway> {
  const sql = opts.sql ?? (await openSql(config.database));
  await migrate(sql);
  const hot: ShortTermStore = config.redis.url
    ? await createRedisShortTermStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, maxTurns: config.session.hotTurns, commandTimeoutMs: config.redis.commandTimeoutMs })
    : noShortTermStore;
  const tenancy = createTenancyRepo(sql);
  // Key revocations and changes reach every gateway sharing the Redis at once (the cache TTL otherwise).
  let applyRemote: (message: string) => void = () => {};
  const bus = config.redis.url
    ? await createRevocationBus({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, log, onMessage: (m) => applyRemote(m) })
    : undefined;
  const auth = createAuthenticator({ repo: tenancy, adminApiKey: config.auth.adminApiKey, ttlMs: config.auth.keyCacheTtlMs, broadcast: bus?.publish });
  applyRemote = auth.applyRemote;
  const metrics = createMetrics();
  const prices = createPriceTable(config);
  const router = createRouter({
    config,
    providers: createProviders(config),
    priceOf: prices.ofModel,
    onAttemptError: (target, err) => metrics.upstreamErrors.inc({ provider: target.provider, model: target.model, code: err.code }),
  });
  const jobs = await createJobQueue({ redisUrl: config.redis.url, keyPrefix: config.redis.keyPrefix, lockMs: config.jobs.lockMs }, log);
  metrics.watchQueue(() => jobs.counts());
  const summaryStore = createSummaryStore(sql);
  const summary = config.memory.summary;
  // A session whose unsummarised tail reached the trigger gets a summary job (deduplicated per session).
  // Facts are read from new turns by the extraction job, after a short wait for more (one job per burst).
  const facts = config.memory.facts;
  const extracting = facts.enabled && facts.model !== undefined;
  const notQueued = (what: string) => (err: unknown) => log.warn({ err: (err as Error).message }, `${what} job not enqueued; the sweep will`);
  // The queue drops a summary job already waiting for the session, but asking costs a Redis script on
  // every append past the trigger: a session asks at most once per SUMMARY_ASK_MS (a failed ask is retried).
  const summaryAsks = createTtlMemo<unknown>(SUMMARY_ASK_MS);
  const transcript = createTranscript(
    sql,
    {
      afterAppend: (tenantId, sessionId, tailTokens) => {
        const job = { tenantId, sessionId };
        if (summary.enabled && tailTokens >= summary.triggerTokens) {
          const key = summaryKey(job);
          summaryAsks.get(key, () => jobs.enqueue(SUMMARIZE_JOB, job, { key })).catch(notQueued('summary'));
        }
        if (extracting) jobs.enqueue(EXTRACT_FACTS_JOB, job, { key: factsKey(job), delayMs: facts.debounceMs }).catch(notQueued('fact extraction'));
      },
    },
    { synchronousCommit: config.session.synchronousCommit },
  );
  const embedder = await createEmbedder({ ...config.embeddings, lazy: !config.embeddings.preload });
  const quotas = createQuotas({ sql, log, alerts: config.alerts });
  const usage = createUsageRecorder({ sql, log, quotas });
  const redisOptions = config.redis.url ? { url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs } : undefined;
  const limiter = createRateLimiter({ redis: redisOptions, log });
  // The response cache: entries in SQL (a hot copy in Redis), questions in their own vector collection.
  const cacheVectors = await createVectorStore(config.vector, 'cache', sql, log);
  const cacheStore = createCacheStore({ sql, redis: redisOptions, log });
  const cache = createResponseCache({ config, store: cacheStore, vectors: cacheVectors.store, embedder, metrics, prices, log });
  const capture = createCapture({ sql, config, log });
  const sweepCache = setInterval(() => {
    cache.sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cache: expired entries not swept; next sweep retries'));
    capture.sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'request captures past retention not deleted; next sweep retries'));
  }, config.cache.sweepIntervalMs);
  sweepCache.unref();

  // The memories' vector store: turns (episodic memory) and facts.
  const memoryVectors = await createVectorStore(config.vector, 'memories', sql, log);
  // Episodic memory: turns embedded off the request path, searched by the context pipeline.
  let indexer: TurnIndexer | undefined;
  const stages: ContextStage[] = [];
  let vectors: VectorStore | undefined;
  if (config.memory.episodic.enabled) {
    const v = memoryVectors;
    vectors = v.store;
    // A store in this process's memory is filled by this process; a shared one by whoever takes the jobs.
    indexer = createTurnIndexer({
      sql,
      embedder,
      vectors,
      durable: v.durable,
      batchSize: config.memory.episodic.batchSize,
      sweepIntervalMs: config.memory.episodic.sweepIntervalMs,
      claimSeconds: config.memory.episodic.claimSeconds,
      log,
      queue: v.durable ? jobs : undefined,
    });
    indexer.start();
    const ep = config.memory.episodic;
    const search = createEpisodicSearch({ sql, vectors, embedder, collection: indexer.collection.name });
    stages.push(createEpisodicStage(search, { candidates: ep.candidates, rrfK: ep.rrfK, neighbours: ep.neighbours }));
  }
  // Knowledge: collections, documents ingested off the request path, hybrid search over their chunks.
  const collections = createCollections(sql);
  const docStore = await createVectorStore(config.vector, 'documents', sql, log);
  const documents = createDocuments({ sql, collections, vectors: docStore.store, embedder, log, onDelete: (tenantId, collectionId) => cache.invalidate({ tenantId, collectionId }) });
  const knowledge = createKnowledgeScope({ sql, collections });
  const parser = createParser({ heapMb: config.knowledge.upload.parserHeapMb });
  const ingestor = createIngestor({
    sql,
    embedder,
    vectors: docStore.store,
    durable: docStore.durable,
    spec: documents.spec,
    sweepIntervalMs: config.memory.episodic.sweepIntervalMs,
    log,
    onReady: (tenantId, collectionId) => {
      knowledge.invalidate(tenantId);
      cache.invalidate({ tenantId, collectionId });
    },
    queue: docStore.durable ? jobs : undefined,
    chunk: parser.chunk,
  });
  ingestor.start();
  const rerank = config.knowledge.search.rerank;
  const rerankFailed = throttledWarn(log, 'reranker failed; search results keep the fused order');
  const reranker = rerank.model
    ? await createTransformersReranker({ model: rerank.model, modelDir: rerank.modelDir ?? config.embeddings.modelDir, threads: rerank.threads })
    : undefined;
  const chunkSearch = createChunkSearch({
    sql,
    vectors: docStore.store,
    embedder,
    collection: documents.spec.name,
    lexicalWeight: config.knowledge.search.lexicalWeight,
    reranker,
    rerankCandidates: rerank.candidates,
    onRerankError: (err) => rerankFailed({ err: err.message }),
  });

  stages.push(createDocumentsStage(chunkSearch));

  const summarizer = createSummarizer({ store: summaryStore, transcript, embedder, router, config: summary, log });
  // Fact memory: the memory API always; extraction from turns when a model is configured.
  const memoryStore = createMemoryStore(sql);
  const factIndex = createFactIndex({ store: memoryStore, vectors: memoryVectors.store, embedder, log, onChange: (tenantId, userId) => cache.invalidate({ tenantId, userId }) });
  // A store that forgets on restart (in memory) is refilled from SQL, off the start-up path.
  if (!memoryVectors.durable) void factIndex.rebuild().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'fact vectors not rebuilt; fact search is incomplete until a restart'));
  if (facts.enabled) stages.push(createFactsStage(factIndex, { topK: facts.topK, minScore: facts.minScore }));
  const extractor = extracting ? createFactExtractor({ sql, transcript, store: memoryStore, index: factIndex, router, config: facts, log }) : undefined;
  const jobKinds = await startJobKinds({
    queue: jobs,
    config,
    summaries: summary.enabled ? { store: summaryStore, summarizer } : undefined,
    facts: extractor,
    sql,
    // Vectors in this process's memory are written by this process: it takes its jobs even where
    // workers run (they leave those kinds alone; workers/main.ts).
    process: config.jobs.process || !memoryVectors.durable,
    log,
  });

  const memory = createSessionMemory({ transcript, hot, hotTurns: config.session.hotTurns, localSessions: config.session.localSessions, log, onAppend: indexer?.notify });
  const context = createContextPipeline({ config, memory, embedder, stages, knowledge, summaries: summary.enabled ? summaryStore : undefined, log });
  // PII redaction, when on: upstream requests (placeholders restored in answers) and memory writes.
  const redactor = config.pii.enabled ? createRedactor(config.pii) : undefined;
  const memoryMasker = redactor && config.pii.apply.memory ? redactor : undefined;
  const maskForMemory = memoryMasker ? (m: ChatMessage) => maskMessage(memoryMasker, m) : undefined;
  const chat = createChatService({ config, router, memory, context, embedder, maskForMemory });
  // Building a BPE table takes up to 2 s: pay it at start-up, not on the first session request.
  for (const alias of router.aliases()) getTokenizer(router.resolve(alias).info.encoding);
  getTokenizer('o200k_base');

  const deps: AppDeps = { config, log, sql, hot, auth, tenancy, transcript, memory, router, chat, embedder, context, indexer, vectors, collections, documents, ingestor, parser, chunkSearch, docVectors: docStore.store, jobs, summaries: summaryStore, memories: memoryStore, factIndex, cache, metrics, usage, prices, limiter, quotas, pii: redactor && config.pii.apply.upstream ? redactor : undefined, memoryMasker, capture, prompts: createPromptStore(sql) };
  return {
    app: createApp(deps),
    deps,
    async close() {
      // Background work stops first: it uses the embedder, the vectors and SQL.
      jobKinds.stop();
      clearInterval(sweepCache);
      await Promise.all([jobs.close(), indexer?.close(), ingestor.close(), parser.close(), cache.idle()]);
      // Hit counts and usage rows are written to SQL before it closes.
      const flushed = await Promise.allSettled([cacheStore.close(), usage.close().then(() => quotas.idle())]);
      const results = await Promise.allSettled([
        hot.close(),
        embedder.close(),
        reranker?.close(),
        memoryVectors.store.close(),
        docStore.store.close(),
        cacheVectors.store.close(),
        limiter.close(),
        bus?.close(),
        opts.sql ? Promise.resolve() : sql.close(),
      ]);
      results.push(...flushed);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
  };
}
