import { availableParallelism } from 'node:os';
import { type BatcherOptions, createBatchingEmbedder } from './batcher.js';
import { createQueryCachingEmbedder } from './lru.js';
import type { Embedder } from './port.js';

export type EmbedderKind = 'use-lite' | 'transformers';

export interface EmbedderConfig {
  /** 'use-lite' (default): bundled USE-lite, zero downloads. 'transformers': any ONNX feature-extraction model. */
  kind?: EmbedderKind;
  /** transformers: hub id or folder name under modelDir (default Xenova/all-MiniLM-L6-v2). use-lite: must be omitted or 'use-lite-512'. */
  model?: string;
  /** transformers: local model root (EMBEDDINGS_MODEL_DIR); remote downloads are disabled when set. */
  modelDir?: string;
  /** use-lite: worker threads (default: available cores). transformers: onnxruntime intra-op threads. */
  threads?: number;
  /**
   * Micro-batching of concurrent calls (batcher.ts: a call waits only while the model is busy); `false` turns
   * it off. Default: on for transformers (onnxruntime usually runs a batch faster than its texts one by one),
   * off for use-lite, which is fastest at one text per worker message (measured, see use-lite/pool.ts).
   */
  batching?: BatcherOptions | false;
  /** use-lite: where its ONNX translation is cached (default: the OS's temporary directory). */
  cacheDir?: string;
  /** LRU entries for query vectors; 0 turns the cache off. */
  queryCacheEntries?: number;
  /**
   * use-lite only: start the worker threads on the first `embed` instead of now. Production wants
   * them warm at start-up (the first query would pay ~1 s); tests and CLIs that may never embed do not.
   */
  lazy?: boolean;
}

/**
 * Builds the configured local embedder, wrapped as: query LRU → micro-batcher → model. Adapters are
 * imported lazily, so a deployment that uses one never loads the other's runtime.
 */
export async function createEmbedder(cfg: EmbedderConfig = {}): Promise<Embedder> {
  const base = await createBase(cfg);
  const batching = cfg.batching ?? (cfg.kind === 'transformers' ? {} : false);
  // transformers runs one call at a time on its thread; use-lite one per worker thread.
  const concurrency = cfg.kind === 'transformers' ? 1 : (cfg.threads ?? availableParallelism());
  const batched = batching === false ? base : createBatchingEmbedder(base, { concurrency, ...batching });
  return cfg.queryCacheEntries === 0 ? batched : createQueryCachingEmbedder(batched, { maxEntries: cfg.queryCacheEntries });
}

async function createBase(cfg: EmbedderConfig): Promise<Embedder> {
  const kind = cfg.kind ?? 'use-lite';
  if (kind === 'transformers') {
    const { createTransformersEmbedder } = await import('./transformers/adapter.js');
    return createTransformersEmbedder({ model: cfg.model, modelDir: cfg.modelDir, threads: cfg.threads });
  }
  const { createUseLiteEmbedder, USE_LITE_MODEL_ID } = await import('./use-lite/pool.js');
  const { USE_LITE_DIMENSIONS } = await import('./use-lite/protocol.js');
  if (cfg.model && cfg.model !== USE_LITE_MODEL_ID) {
    throw new Error(`The use-lite embedder only serves "${USE_LITE_MODEL_ID}"; set kind 'transformers' to use "${cfg.model}".`);
  }
  const start = () => createUseLiteEmbedder({ threads: cfg.threads, cacheDir: cfg.cacheDir });
  return cfg.lazy ? lazyEmbedder(USE_LITE_MODEL_ID, USE_LITE_DIMENSIONS, start) : start();
}

/** An Embedder whose model loads on first use; a failed load is retried by the next call. */
function lazyEmbedder(model: string, dimensions: number, start: () => Promise<Embedder>): Embedder {
  let loading: Promise<Embedder> | undefined;
  let closed = false;
  const get = () => {
    loading ??= start().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
  return {
    model,
    dimensions,
    async embed(texts, opts) {
      if (closed) throw new Error(`The ${model} embedder is closed.`);
      if (texts.length === 0) return [];
      return (await get()).embed(texts, opts);
    },
    async close() {
      closed = true;
      const pending = loading;
      loading = undefined;
      if (pending) await (await pending.catch(() => undefined))?.close();
    },
  };
}
