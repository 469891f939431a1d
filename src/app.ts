import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express from 'express';
import type { Logger } from 'pino';
import type { ChatService } from './chat/service.js';
import type { ContextPipeline } from './context/pipeline.js';
import type { Config } from './config/schema.js';
import type { Embedder } from './embeddings/port.js';
import { errorHandler, notFoundHandler } from './http/middleware/errors.js';
import { accessLog, createContext } from './http/request-context.js';
import { adminRoutes } from './http/routes/admin.js';
import { createChatHandler } from './http/routes/chat.js';
import { collectionRoutes } from './http/routes/collections.js';
import { contextRoutes } from './http/routes/context.js';
import { embeddingsRoutes } from './http/routes/embeddings.js';
import { healthRoutes } from './http/routes/health.js';
import { openApiRoutes } from './http/routes/openapi.js';
import { modelRoutes } from './http/routes/models.js';
import { sessionRoutes } from './http/routes/sessions.js';
import type { Collections } from './knowledge/collections.js';
import type { Documents } from './knowledge/documents.js';
import type { Ingestor } from './knowledge/ingestor.js';
import type { Parser } from './knowledge/parse/pool.js';
import type { ChunkSearch } from './knowledge/search.js';
import type { TurnIndexer } from './memory/episodic/indexer.js';
import type { SessionMemory } from './memory/session-memory.js';
import type { ShortTermStore } from './memory/short-term/port.js';
import type { Transcript } from './memory/transcript.js';
import type { Router } from './providers/router/router.js';
import type { Sql } from './store/sql.js';
import type { Authenticator } from './tenancy/auth.js';
import type { VectorStore } from './vector/port.js';
import type { JobQueue } from './jobs/port.js';
import type { SummaryStore } from './memory/summaries/store.js';
import type { MemoryStore } from './memory/facts/store.js';
import type { FactIndex } from './memory/facts/index.js';
import { memoryRoutes } from './http/routes/memories.js';
import type { TenancyRepo } from './tenancy/repo.js';
import type { ResponseCache } from './cache/cache.js';
import type { Metrics } from './observability/metrics.js';
import { cacheAdminRoutes } from './http/routes/cache.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { promptRoutes } from './http/routes/prompts.js';
import type { PromptStore } from './prompts/store.js';
import { usageRoutes } from './http/routes/usage.js';
import type { PriceTable } from './usage/prices.js';
import type { UsageRecorder } from './usage/recorder.js';
import type { RateLimiter } from './governance/ratelimit.js';
import type { Quotas } from './governance/quotas.js';
import { maskMessage, type Redactor } from './governance/pii/index.js';
import type { Capture } from './observability/capture.js';
import { requestRoutes } from './http/routes/requests.js';

/** Everything the HTTP app needs, built by the composition root (main.ts) or a test. */
export interface AppDeps {
  config: Config;
  log: Logger;
  sql: Sql;
  hot: ShortTermStore;
  auth: Authenticator;
  tenancy: TenancyRepo;
  transcript: Transcript;
  memory: SessionMemory;
  router: Router;
  chat: ChatService;
  embedder: Embedder;
  context: ContextPipeline;
  collections: Collections;
  documents: Documents;
  ingestor: Ingestor;
  parser: Parser;
  chunkSearch: ChunkSearch;
  /** The vector store of document chunks. */
  docVectors: VectorStore;
  /** Background jobs (summaries), and the session summaries they write. */
  jobs: JobQueue;
  summaries: SummaryStore;
  /** Long-term fact memories and their vectors. */
  memories: MemoryStore;
  factIndex: FactIndex;
  /** Present when episodic memory is enabled. */
  indexer: TurnIndexer | undefined;
  vectors: VectorStore | undefined;
  /** The response cache (exact and semantic). */
  cache: ResponseCache;
  metrics: Metrics;
  /** Prompt templates and their versions (the prompt API). */
  prompts: PromptStore;
  /** Usage rows (one per chat request) and the price table that costs them. */
  usage: UsageRecorder;
  prices: PriceTable;
  /** Requests and tokens per minute per key, tenant and model alias. */
  limiter: RateLimiter;
  /** Token and money quotas per key and tenant. */
  quotas: Quotas;
  /** Redacts PII from upstream requests; absent when redaction is off (or not applied upstream). */
  pii: Redactor | undefined;
  /** Masks PII in what is stored in memory; absent when redaction does not apply to memory. */
  memoryMasker: Pick<Redactor, 'mask'> | undefined;
  /** Prompt/answer capture for the tenants that turned it on. */
  capture: Capture;
}

/**
 * The HTTP app as a node:http request listener, without listening: main.ts listens, tests
 * `listen(0)`. The chat route, the hot path, is dispatched before express; every other route
 * goes through express.
 */
export function createApp(deps: AppDeps): RequestListener {
  const { memoryMasker } = deps;
  // Built first: the prompt API answers its runs through the chat handler.
  const chat = createChatHandler({
    auth: deps.auth,
    chat: deps.chat,
    log: deps.log,
    maxBodyBytes: deps.config.server.maxBodyBytes,
    streamIdleTimeoutMs: deps.config.router.timeoutMs,
    cache: deps.cache,
    metrics: deps.metrics,
    usage: deps.usage,
    prices: deps.prices,
    limiter: deps.limiter,
    quotas: deps.quotas,
    pii: deps.pii,
    capture: deps.capture,
    router: deps.router,
    models: deps.config.models,
  });
  const app = express();
  // No ETags (every chat answer is new) and no framework banner.
  app.set('etag', false);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const c = createContext(req, deps.log);
    res.locals.ctx = c;
    res.setHeader('x-request-id', c.id);
    res.once('finish', () => {
      accessLog(deps.log, req.method, req.originalUrl, res.statusCode, c);
      // The matched path template, not the URL: a bounded label set.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      deps.metrics.requests.inc({ route, method: req.method, status: String(res.statusCode) });
      deps.metrics.requestSeconds.observe({ route }, (performance.now() - c.startedAt) / 1000);
    });
    next();
  });
  app.use(express.json({ limit: deps.config.server.maxBodyBytes, strict: false, type: ['application/json', 'application/*+json'] }));

  app.use(healthRoutes({ sql: deps.sql, hot: deps.hot }));
  app.use(openApiRoutes());
  app.use(metricsRoutes({ metrics: deps.metrics }));
  app.use(modelRoutes({ auth: deps.auth, router: deps.router }));
  app.use(embeddingsRoutes({ auth: deps.auth, embedder: deps.embedder }));
  app.use(sessionRoutes({ auth: deps.auth, transcript: deps.transcript, memory: deps.memory, router: deps.router, indexer: deps.indexer, summaries: deps.summaries, cache: deps.cache, maskForMemory: memoryMasker ? (m) => maskMessage(memoryMasker, m) : undefined }));
  app.use(contextRoutes({ auth: deps.auth, chat: deps.chat }));
  app.use(
    collectionRoutes({
      auth: deps.auth,
      collections: deps.collections,
      documents: deps.documents,
      ingestor: deps.ingestor,
      search: deps.chunkSearch,
      embedder: deps.embedder,
      parser: deps.parser,
      upload: deps.config.knowledge.upload,
    }),
  );
  app.use(memoryRoutes({ auth: deps.auth, store: deps.memories, index: deps.factIndex, embedder: deps.embedder, log: deps.log, cache: deps.cache, maskText: memoryMasker?.mask }));
  app.use(adminRoutes({ auth: deps.auth, repo: deps.tenancy, jobs: deps.jobs }));
  app.use(cacheAdminRoutes({ auth: deps.auth, cache: deps.cache }));
  app.use(promptRoutes({ auth: deps.auth, prompts: deps.prompts, router: deps.router, chat }));
  app.use(usageRoutes({ auth: deps.auth, sql: deps.sql, usage: deps.usage }));
  app.use(requestRoutes({ auth: deps.auth, sql: deps.sql, usage: deps.usage }));
  app.use(notFoundHandler);
  app.use(errorHandler);

  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && (req.url === '/v1/chat/completions' || req.url?.startsWith('/v1/chat/completions?'))) chat(req, res);
    else app(req, res);
  };
}
