/**
 * The `Embedder` port: turns texts into L2-normalised vectors, locally. Adapters own their model
 * runtime (onnxruntime on worker threads); callers see only this interface.
 */

/**
 * What a text is for. Asymmetric models (e5, bge…) embed queries and documents with different
 * prefixes; symmetric ones (USE, MiniLM) ignore it. Caches key on it too.
 */
export type EmbedKind = 'query' | 'document';

export interface EmbedOptions {
  /** Default 'document'. */
  kind?: EmbedKind;
}

export interface Embedder {
  /** Stable id of the model that makes the vectors; stored beside every vector so a model change forces a re-embed. */
  readonly model: string;
  readonly dimensions: number;
  /** One unit-length vector per text, in input order. An empty list resolves to an empty list. */
  embed(texts: readonly string[], opts?: EmbedOptions): Promise<Float32Array[]>;
  /** Frees the model (threads, native sessions). Idempotent. */
  close(): Promise<void>;
}

/** Scales `v` to unit length in place and returns it; a zero vector stays zero (no NaN). */
export function normalizeInPlace(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) * (v[i] as number);
  if (sum === 0) return v;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * inv;
  return v;
}

/** Cosine similarity; equals the dot product for the unit vectors every Embedder returns. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
