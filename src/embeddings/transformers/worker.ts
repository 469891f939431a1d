/**
 * Worker thread that holds one transformers.js model: a feature-extraction pipeline, or a cross-encoder
 * for reranking (`task: 'rerank'`). onnxruntime-node's
 * `session.run` is a single synchronous native call (its backend only defers it with setImmediate), so
 * on the calling thread a large batch froze the event loop for the whole batch (64 texts of ~400 tokens on
 * an all-MiniLM-L6-v2-shaped model: ~17 s). Here it blocks only this thread; onnxruntime still spreads each
 * run over its intra-op threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AutoModelForSequenceClassification, AutoTokenizer, env, type FeatureExtractionPipeline, pipeline, type Tensor } from '@huggingface/transformers';
import type { ModelInit, ModelMessage, ModelRequest } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('the transformers.js worker must run in a worker thread');
const init = workerData as ModelInit;
const send = (m: ModelMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

// transformers.js keeps its settings in a module-wide `env`; every embedder has its own thread, so its own env.
if (init.modelDir) {
  env.localModelPath = init.modelDir.endsWith('/') ? init.modelDir : `${init.modelDir}/`;
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
}
if (init.cacheDir) env.cacheDir = init.cacheDir;

async function embed(extractor: FeatureExtractionPipeline, texts: string[]): Promise<Float32Array[]> {
  const out = await extractor(texts, { pooling: 'mean', normalize: true });
  const [rows, dims] = out.dims as [number, number];
  const data = out.data as Float32Array;
  const vectors: Float32Array[] = [];
  // One buffer per vector, so a caller holding one vector does not pin the whole batch's buffer.
  for (let i = 0; i < rows; i++) vectors.push(data.slice(i * dims, (i + 1) * dims));
  return vectors;
}

const loadOptions = {
  dtype: init.dtype,
  device: 'cpu' as const,
  ...(init.modelDir ? { local_files_only: true } : {}),
  ...(init.threads ? { session_options: { intraOpNumThreads: init.threads, interOpNumThreads: 1 } } : {}),
};

type Run = (req: Extract<ModelRequest, { type: 'embed' | 'rerank' }>) => Promise<Float32Array[]>;

/** The feature-extraction pipeline: texts → vectors. */
async function loadEmbedder(): Promise<{ run: Run; dispose(): Promise<unknown> }> {
  const extractor = await pipeline('feature-extraction', init.model, loadOptions);
  return { run: (req) => embed(extractor, req.texts), dispose: () => extractor.dispose() };
}

/** A cross-encoder: (query, text) pairs → one relevance score each (its last logit). */
async function loadCrossEncoder(): Promise<{ run: Run; dispose(): Promise<unknown> }> {
  const [tokenizer, model] = await Promise.all([
    AutoTokenizer.from_pretrained(init.model, init.modelDir ? { local_files_only: true } : {}),
    AutoModelForSequenceClassification.from_pretrained(init.model, loadOptions),
  ]);
  return {
    async run(req) {
      const query = req.type === 'rerank' ? req.query : '';
      const inputs = tokenizer(new Array<string>(req.texts.length).fill(query), { text_pair: req.texts, padding: true, truncation: true });
      const { logits } = (await model(inputs)) as { logits: Tensor };
      const [rows, labels] = logits.dims as [number, number];
      const data = logits.data as Float32Array;
      const scores = new Float32Array(rows);
      for (let i = 0; i < rows; i++) scores[i] = data[i * labels + labels - 1] as number;
      return [scores];
    },
    dispose: () => model.dispose(),
  };
}

(init.task === 'rerank' ? loadCrossEncoder() : loadEmbedder()).then(
  (loaded) => {
    // One request at a time, in order: a run already uses the intra-op threads, and 'dispose' must wait
    // for the requests sent before it.
    let chain: Promise<void> = Promise.resolve();
    port.on('message', (req: ModelRequest) => {
      chain = chain.then(() => {
        // A failed dispose changes nothing for the caller: the thread is ended right after either way.
        if (req.type === 'dispose') return loaded.dispose().then(() => {}, () => {}).then(() => send({ type: 'disposed' }));
        return loaded.run(req).then(
          (vectors) => send({ type: 'result', id: req.id, vectors }, vectors.map((v) => v.buffer as ArrayBuffer)),
          (err: unknown) => send({ type: 'error', id: req.id, message: messageOf(err) }),
        );
      });
    });
    send({ type: 'ready' });
  },
  (err: unknown) => send({ type: 'load-error', message: messageOf(err), stack: err instanceof Error ? err.stack : undefined }),
);
