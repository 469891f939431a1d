/**
 * transformers.js adapter: any feature-extraction model (ONNX) by hub id or local directory, mean
 * pooling + L2 normalisation. `@huggingface/transformers` is the maintained successor of
 * `@xenova/transformers` (same API and authors; @xenova has had no release since 2.17.2) and runs on
 * onnxruntime-node, whose inference runs on native threads, so it is already off the event loop.
 */
import { env, type FeatureExtractionPipeline, pipeline } from '@huggingface/transformers';
import type { Embedder, EmbedOptions } from '../port.js';

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
  dtype?: 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4';
  /** onnxruntime intra-op threads. Default: onnxruntime's own (all cores). */
  threads?: number;
  /** Prefixes for asymmetric models (e5: 'query: ' / 'passage: '). Default none. */
  queryPrefix?: string;
  documentPrefix?: string;
}

/**
 * Loads the model, runs one probe text to learn the vector size (configs do not all name it), and
 * returns the Embedder. transformers.js keeps its settings in a process-wide `env`: the last
 * adapter created decides `localModelPath`/`allowRemoteModels`, which is fine for one model per process.
 */
export async function createTransformersEmbedder(opts: TransformersOptions = {}): Promise<Embedder> {
  const model = opts.model ?? DEFAULT_TRANSFORMERS_MODEL;
  if (opts.modelDir) {
    env.localModelPath = opts.modelDir.endsWith('/') ? opts.modelDir : `${opts.modelDir}/`;
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
  }
  if (opts.cacheDir) env.cacheDir = opts.cacheDir;

  let extractor: FeatureExtractionPipeline;
  try {
    extractor = await pipeline('feature-extraction', model, {
      dtype: opts.dtype ?? 'fp32',
      device: 'cpu',
      ...(opts.modelDir ? { local_files_only: true } : {}),
      ...(opts.threads ? { session_options: { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } } : {}),
    });
  } catch (err) {
    const where = opts.modelDir
      ? `from ${opts.modelDir}/${model} (EMBEDDINGS_MODEL_DIR; it needs onnx/model.onnx, config.json, tokenizer.json, tokenizer_config.json)`
      : 'from the Hugging Face hub (set EMBEDDINGS_MODEL_DIR where there is no internet)';
    throw new Error(`Could not load the embedding model "${model}" ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  async function run(texts: string[]): Promise<Float32Array[]> {
    const out = await extractor(texts, { pooling: 'mean', normalize: true });
    const [rows, dims] = out.dims as [number, number];
    const data = out.data as Float32Array;
    const vectors: Float32Array[] = [];
    // Copies, so a caller holding one vector does not pin the whole batch's buffer.
    for (let i = 0; i < rows; i++) vectors.push(data.slice(i * dims, (i + 1) * dims));
    return vectors;
  }

  const probe = await run(['dimension probe']);
  const dimensions = probe[0]?.length ?? 0;
  if (!dimensions) throw new Error(`The model "${model}" returned no features; is it a feature-extraction model?`);
  let closed = false;

  return {
    model,
    dimensions,
    async embed(texts: readonly string[], o?: EmbedOptions): Promise<Float32Array[]> {
      if (closed) throw new Error('The transformers.js embedder is closed.');
      if (texts.length === 0) return [];
      const prefix = (o?.kind === 'query' ? opts.queryPrefix : opts.documentPrefix) ?? '';
      return run(prefix ? texts.map((t) => prefix + t) : [...texts]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await extractor.dispose();
    },
  };
}
