import { loadConfigOrExit } from '../src/config/load.js';
import { createEmbedder } from '../src/embeddings/factory.js';
import { createJobQueue } from '../src/jobs/factory.js';
import { startJobKinds } from '../src/jobs/kinds.js';
import { chunkCollection } from '../src/knowledge/chunk-vectors.js';
import { createIngestor } from '../src/knowledge/ingestor.js';
import { createParser } from '../src/knowledge/parse/pool.js';
import { createTurnIndexer } from '../src/memory/episodic/indexer.js';
import { createFactExtractor } from '../src/memory/facts/extractor.js';
import { createFactIndex } from '../src/memory/facts/index.js';
import { createMemoryStore } from '../src/memory/facts/store.js';
import { createSummaryStore } from '../src/memory/summaries/store.js';
import { createTranscript } from '../src/memory/transcript.js';
import { createVectorStore } from '../src/vector/factory.js';
import { createSummarizer } from '../src/memory/summaries/summarizer.js';
import { createResponseCache } from '../src/cache/cache.js';
import { createCacheStore } from '../src/cache/store.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createPriceTable } from '../src/usage/prices.js';
import { createLogger } from '../src/observability/logger.js';
import { createProviders } from '../src/providers/registry.js';
import { createRouter } from '../src/providers/router/router.js';
import { migrate } from '../src/store/migrate.js';
import { openSql } from '../src/store/open.js';

/**
 * The worker process (`npm run worker`, docker compose's `worker` service): it takes background jobs
 * (turn embedding, document ingestion, session summaries, fact extraction) from the BullMQ queue on Redis, beside gateways started with
 * `JOBS_PROCESS=false`, and runs the sweep that re-enqueues what SQL says is missing. It shares
 * config, SQL and migrations with the gateway. Without Redis there is no queue to share: the
 * embedded gateway runs its jobs itself, so a worker refuses to start.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.log.level);
  if (!config.redis.url) {
    log.error('a worker needs REDIS_URL (the job queue); without Redis the gateway runs its jobs in-process');
    process.exit(1);
  }
  const sql = await openSql(config.database);
  await migrate(sql);
  const embedder = await createEmbedder({ ...config.embeddings, lazy: true });
  const router = createRouter({ config, providers: createProviders(config) });
  const queue = await createJobQueue({ redisUrl: config.redis.url, keyPrefix: config.redis.keyPrefix, lockMs: config.jobs.lockMs }, log);
  // Jobs read turns; appends are the gateways' (no triggers here).
  const transcript = createTranscript(sql);
  const store = createSummaryStore(sql);
  const summaries = config.memory.summary.enabled ? { store, summarizer: createSummarizer({ store, transcript, embedder, router, config: config.memory.summary, log }) } : undefined;
  // Turn embedding and document ingestion, when their vectors live in a shared store (pgvector,
  // Qdrant); a store in a gateway's own memory is filled by that gateway.
  const turnVectors = await createVectorStore(config.vector, 'memories', sql, log);
  const docVectors = await createVectorStore(config.vector, 'documents', sql, log);
  // The response cache, for what workers change: answers drawn on a collection whose documents this
  // worker ingests, or on facts it extracts, are forgotten; and expired entries are swept.
  const cacheVectors = await createVectorStore(config.vector, 'cache', sql, log);
  const cacheStore = createCacheStore({ sql, redis: { url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs }, log });
  const cache = createResponseCache({ config, store: cacheStore, vectors: cacheVectors.store, embedder, metrics: createMetrics(), prices: createPriceTable(config), log });
  const sweepCache = setInterval(() => {
    cache.sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cache: expired entries not swept; next sweep retries'));
  }, config.cache.sweepIntervalMs);
  const ep = config.memory.episodic;
  const indexer =
    ep.enabled && turnVectors.durable
      ? createTurnIndexer({ sql, embedder, vectors: turnVectors.store, durable: true, batchSize: ep.batchSize, sweepIntervalMs: ep.sweepIntervalMs, claimSeconds: ep.claimSeconds, log, queue })
      : undefined;
  // Documents are cut into chunks on a parser thread, as in the gateway (started on first use).
  const parser = createParser({ heapMb: config.knowledge.upload.parserHeapMb });
  const ingestor = docVectors.durable
    ? createIngestor({
        sql,
        embedder,
        vectors: docVectors.store,
        durable: true,
        spec: chunkCollection(embedder),
        sweepIntervalMs: ep.sweepIntervalMs,
        log,
        queue,
        onReady: (tenantId, collectionId) => cache.invalidate({ tenantId, collectionId }),
        chunk: parser.chunk,
      })
    : undefined;
  // Fact vectors kept in memory would be this process's alone: the gateway, which then takes the
  // extraction jobs itself, must write them.
  const facts = config.memory.facts;
  const factVectors = facts.enabled && facts.model && turnVectors.durable ? turnVectors.store : undefined;
  if (!turnVectors.durable || !docVectors.durable) {
    log.warn('vectors are kept in memory (no pgvector, no Qdrant): this worker leaves turn embedding, document ingestion and fact extraction to the gateway');
  }
  const memoryStore = createMemoryStore(sql);
  const extractor = factVectors
    ? createFactExtractor({ sql, transcript, store: memoryStore, index: createFactIndex({ store: memoryStore, vectors: factVectors, embedder, log, onChange: (tenantId, userId) => cache.invalidate({ tenantId, userId }) }), router, config: facts, log })
    : undefined;
  const kinds = await startJobKinds({ queue, config, summaries, facts: extractor, sql, process: true, log });
  indexer?.start();
  ingestor?.start();
  log.info(
    {
      sql: sql.kind,
      queue: queue.kind,
      turns: indexer !== undefined,
      documents: ingestor !== undefined,
      summaries: summaries !== undefined,
      summaryModel: config.memory.summary.model ?? null,
      factModel: extractor ? facts.model : null,
    },
    'worker started',
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'worker shutting down');
    kinds.stop();
    clearInterval(sweepCache);
    const results = await Promise.allSettled([queue.close(), indexer?.close(), ingestor?.close(), parser.close(), cache.idle()]);
    await cacheStore.close().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cache: hit counts not written at shutdown'));
    await Promise.allSettled([embedder.close(), turnVectors.store.close(), docVectors.store.close(), cacheVectors.store.close(), sql.close()]);
    for (const r of results) if (r.status === 'rejected') log.error({ err: r.reason }, 'error while closing the queue');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
