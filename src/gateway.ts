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
import { createDocuments, createIngestor } from './knowledge/documents.js';
import { createParser } from './knowledge/parse/pool.js';
import { createChunkSearch } from './knowledge/search.js';
import { createKnowledgeScope } from './knowledge/scope.js';
import { createDocumentsStage } from './context/stages/documents.js';
import { createTurnIndexer, type TurnIndexer } from './memory/episodic/indexer.js';
import { createEpisodicSearch } from './memory/episodic/search.js';
import { createSessionMemory } from './memory/session-memory.js';
import { noShortTermStore, type ShortTermStore } from './memory/short-term/port.js';
import { createRedisShortTermStore } from './memory/short-term/redis.js';
import { createTranscript } from './memory/transcript.js';
import { createProviders } from './providers/registry.js';
import { createRouter } from './providers/router/router.js';
import { migrate } from './store/migrate.js';
import { openSql } from './store/open.js';
import type { Sql } from './store/sql.js';
import { createAuthenticator } from './tenancy/auth.js';
import { createTenancyRepo } from './tenancy/repo.js';
import { getTokenizer } from './tokens/tokenizer.js';
import { createVectorStore } from './vector/factory.js';
import type { VectorStore } from './vector/port.js';

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
  const auth = createAuthenticator({ repo: tenancy, adminApiKey: config.auth.adminApiKey, ttlMs: config.auth.keyCacheTtlMs });
  const router = createRouter({ config, providers: createProviders(config) });
  const transcript = createTranscript(sql);
  const embedder = await createEmbedder({ ...config.embeddings, lazy: !config.embeddings.preload });

  // Episodic memory: turns embedded off the request path, searched by the context pipeline.
  let indexer: TurnIndexer | undefined;
  const stages: ContextStage[] = [];
  let vectors: VectorStore | undefined;
  if (config.memory.episodic.enabled) {
    const v = await createVectorStore(config.vector, 'memories', sql, log);
    vectors = v.store;
    indexer = createTurnIndexer({ sql, embedder, vectors, durable: v.durable, batchSize: config.memory.episodic.batchSize, sweepIntervalMs: config.memory.episodic.sweepIntervalMs, log });
    indexer.start();
    const ep = config.memory.episodic;
    const search = createEpisodicSearch({ sql, vectors, embedder, collection: indexer.collection.name });
    stages.push(createEpisodicStage(search, { candidates: ep.candidates, rrfK: ep.rrfK, neighbours: ep.neighbours }));
  }
  // Knowledge: collections, documents ingested off the request path, hybrid search over their chunks.
  const collections = createCollections(sql);
  const docStore = await createVectorStore(config.vector, 'documents', sql, log);
  const documents = createDocuments({ sql, collections, vectors: docStore.store, embedder, log });
  const knowledge = createKnowledgeScope({ sql, collections });
  const ingestor = createIngestor({
    sql,
    embedder,
    vectors: docStore.store,
    durable: docStore.durable,
    spec: documents.spec,
    sweepIntervalMs: config.memory.episodic.sweepIntervalMs,
    log,
    onReady: knowledge.invalidate,
  });
  ingestor.start();
  const parser = createParser({ heapMb: config.knowledge.upload.parserHeapMb });
  const chunkSearch = createChunkSearch({ sql, vectors: docStore.store, embedder, collection: documents.spec.name, lexicalWeight: config.knowledge.search.lexicalWeight });

  stages.push(createDocumentsStage(chunkSearch));

  const memory = createSessionMemory({ transcript, hot, hotTurns: config.session.hotTurns, localSessions: config.session.localSessions, log, onAppend: indexer?.notify });
  const context = createContextPipeline({ config, memory, embedder, stages, knowledge, log });
  const chat = createChatService({ config, router, memory, context });
  // Building a BPE table takes up to 2 s: pay it at start-up, not on the first session request.
  for (const alias of router.aliases()) getTokenizer(router.resolve(alias).info.encoding);
  getTokenizer('o200k_base');

  const deps: AppDeps = { config, log, sql, hot, auth, tenancy, transcript, memory, router, chat, embedder, context, indexer, vectors, collections, documents, ingestor, parser, chunkSearch, docVectors: docStore.store };
  return {
    app: createApp(deps),
    deps,
    async close() {
      // The indexer stops first: it uses the embedder, the vectors and SQL.
      await Promise.all([indexer?.close(), ingestor.close(), parser.close()]);
      const results = await Promise.allSettled([hot.close(), embedder.close(), vectors?.close(), docStore.store.close(), opts.sql ? Promise.resolve() : sql.close()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
  };
}
