import type { TransformersDtype } from '../embeddings/transformers/protocol.js';
import { startRestartingModelThread } from '../embeddings/transformers/thread.js';

/**
 * A second opinion on search results: scores each (query, text) pair together, which a bi-encoder's
 * vectors cannot, at the cost of running a model over every candidate. Off unless configured.
 */
export interface Reranker {
  readonly model: string;
  /** One score per text, higher is more relevant (on the model's own scale). */
  rerank(query: string, texts: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

export interface TransformersRerankerOptions {
  /** A cross-encoder (sequence classification, e.g. Xenova/ms-marco-MiniLM-L-6-v2): hub id or folder under `modelDir`. */
  model: string;
  /** Local model root: nothing is downloaded when set (RERANK_MODEL_DIR). */
  modelDir?: string;
  cacheDir?: string;
  dtype?: TransformersDtype;
  /** onnxruntime intra-op threads. */
  threads?: number;
}

/**
 * A transformers.js cross-encoder on its own worker thread (onnxruntime's run would hold the event
 * loop). A thread that dies fails the reranks it held, and the next rerank starts a new one.
 */
export async function createTransformersReranker(opts: TransformersRerankerOptions): Promise<Reranker> {
  const init = { task: 'rerank' as const, model: opts.model, modelDir: opts.modelDir, cacheDir: opts.cacheDir, dtype: opts.dtype ?? 'fp32', threads: opts.threads };
  const thread = await startRestartingModelThread(init);
  let closed = false;
  return {
    model: opts.model,
    async rerank(query, texts) {
      if (closed) throw new Error('The reranker is closed.');
      if (texts.length === 0) return [];
      const scores = await (await thread.live()).rerank(query, [...texts]);
      if (scores.length !== texts.length) throw new Error(`The reranking model "${opts.model}" returned ${scores.length} scores for ${texts.length} texts.`);
      return Array.from(scores);
    },
    async close() {
      if (closed) return;
      closed = true;
      await thread.close();
    },
  };
}
