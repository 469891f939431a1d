/** Messages between the transformers.js adapter (calling thread) and its worker thread. */

/** Weights variant: 'fp32' reads onnx/model.onnx, 'q8' onnx/model_quantized.onnx. */
export type TransformersDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4';

/** What the worker loads, passed as its `workerData`. */
export interface ModelInit {
  /** What the model does: embed texts (feature extraction, the default) or score (query, text) pairs (a cross-encoder). */
  task?: 'embed' | 'rerank';
  model: string;
  modelDir?: string | undefined;
  cacheDir?: string | undefined;
  dtype: TransformersDtype;
  threads?: number | undefined;
}

/** Calling thread → worker. Requests are answered in the order they are sent; 'dispose' comes last. */
export type ModelRequest = { type: 'embed'; id: number; texts: string[] } | { type: 'rerank'; id: number; query: string; texts: string[] } | { type: 'dispose' };

/** Worker → calling thread. Each vector travels in its own transferred buffer (no copy, no JSON); a rerank's scores are one vector. */
export type ModelMessage =
  | { type: 'ready' }
  | { type: 'load-error'; message: string; stack?: string | undefined }
  | { type: 'result'; id: number; vectors: Float32Array[] }
  | { type: 'error'; id: number; message: string }
  | { type: 'disposed' };
