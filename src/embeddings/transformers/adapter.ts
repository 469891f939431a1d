/**
 * transformers.js adapter: any feature-extraction model (ONNX) by hub id or local directory, mean
 * pooling + L2 normalisation. `@huggingface/transformers` is the maintained successor of
 * `@xenova/transformers` (same API and authors; @xenova has had no release since 2.17.2) and runs on
 * onnxruntime-node, whose `session.run` is one synchronous native call: on the calling thread a large
 * batch froze the event loop for all of it (~17 s for 64 texts of ~400 tokens on all-MiniLM-L6-v2). So the
 * model lives on one worker thread (worker.ts, thread.ts); this thread only posts texts and receives vectors.
 */
import type { Embedder, EmbedOptions } from '../port.js';
import type { ModelInit, TransformersDtype } from './protocol.js';
import { startRestartingModelThread } from './thread.js';

export const DEFAULT_TRANSFORMERS_MODEL = 'Xenova/all-MiniLM-L6-v2';

export interface TransformersOptions {
  /** Hub id (`Xenova/all-MiniLM-L6-v2`) or the name of a folder under `modelDir`. */
  model?: string;
  /**
   * Air-gapped deployments: a directory holding `<model>/onnx/model.onnx`, `config.json` and the
   * tokenizer files (EMBEDDINGS_MODEL_DIR). When set, nothing is ever fetched; when absent, the model
   * is downloaded from the Hugging Face hub on first use and cached (`cacheDir`).
   */
  modelDir?: string;
  /** Where downloaded models are cached (transformers.js default: node_modules/@huggingface/transformers/.cache). */
  cacheDir?: string;
  /** Weights variant: 'fp32' reads onnx/model.onnx, 'q8' onnx/model_quantized.onnx. Default fp32. */
  dtype?: TransformersDtype;
  /** onnxruntime intra-op threads (inside the one worker thread). Default: onnxruntime's own (all cores). */
  threads?: number;
  /** Prefixes for asymmetric models (e5: 'query: ' / 'passage: '). Default none. */
  queryPrefix?: string;
  documentPrefix?: string;
}

/**
 * Loads the model on a worker thread, runs one probe text to learn the vector size (configs do not all
 * name it), and returns the Embedder. Embeds queue in order on that one thread (onnxruntime already
 * uses several cores per run). If the thread dies (a crash, out of memory), the embeds it held reject
 * and the next embed starts a new thread, loading the model again.
 */
export async function createTransformersEmbedder(opts: TransformersOptions = {}): Promise<Embedder> {
  const model = opts.model ?? DEFAULT_TRANSFORMERS_MODEL;
  const init: ModelInit = { model, modelDir: opts.modelDir, cacheDir: opts.cacheDir, dtype: opts.dtype ?? 'fp32', threads: opts.threads };

  const thread = await startRestartingModelThread(init);
  let closed = false;

  const probe = await (await thread.live()).embed(['dimension probe']).catch(async (err: unknown) => {
    await thread.close();
    throw err;
  });
  const dimensions = probe[0]?.length ?? 0;
  if (!dimensions) {
    await thread.close();
    throw new Error(`The model "${model}" returned no features; is it a feature-extraction model?`);
  }

  return {
    model,
    dimensions,
    async embed(texts: readonly string[], o?: EmbedOptions): Promise<Float32Array[]> {
      if (closed) throw new Error('The transformers.js embedder is closed.');
      if (texts.length === 0) return [];
      const prefix = (o?.kind === 'query' ? opts.queryPrefix : opts.documentPrefix) ?? '';
      return (await thread.live()).embed(prefix ? texts.map((t) => prefix + t) : [...texts]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await thread.close();
    },
  };
}
