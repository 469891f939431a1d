import { collectionMismatch, dimensionMismatch, invalidVectorInput } from './errors.js';
import type { CollectionSpec, FilterScalar, Vector, VectorFilter, VectorPoint } from './port.js';

/**
 * Checks shared by every adapter, so they reject the same inputs with the same errors before any
 * backend sees them (a backend's own error would differ per adapter).
 */
const NAME = /^[a-z][a-z0-9_]{0,47}$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Collection names become SQL identifiers: only this shape is ever interpolated. */
export function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw invalidVectorInput(`Collection name "${name}" must match ${NAME.source}.`);
}

export function checkSpec(spec: CollectionSpec): void {
  checkName(spec.name);
  if (!Number.isInteger(spec.dimensions) || spec.dimensions < 1 || spec.dimensions > 16_000) {
    throw invalidVectorInput(`Collection dimensions must be an integer in 1..16000, got ${spec.dimensions}.`);
  }
  if (spec.metric !== 'cosine') throw invalidVectorInput(`Only the cosine metric is supported, got "${spec.metric}".`);
  if (!spec.model) throw invalidVectorInput('A collection records the embedding model that made its vectors: model is required.');
  for (const key of spec.indexedKeys ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(key)) throw invalidVectorInput(`Indexed payload key "${key}" must match [A-Za-z_][A-Za-z0-9_]{0,39}.`);
  }
}

/** Same dimensions and model, or the caller is about to mix vectors from two models. */
export function checkSameSpec(existing: CollectionSpec, requested: CollectionSpec): void {
  if (existing.dimensions !== requested.dimensions || existing.model !== requested.model) {
    throw collectionMismatch(existing, requested);
  }
}

export function checkTenant(tenantId: string): void {
  // Every search and write is tenant-scoped; an empty tenant would be a shared bucket.
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw invalidVectorInput('A vector store call needs a tenantId.', {});
  }
}

export function checkVector(collection: string, dimensions: number, vector: Vector): void {
  if (vector.length !== dimensions) throw dimensionMismatch(collection, dimensions, vector.length);
  let norm = 0;
  for (const x of vector) {
    if (!Number.isFinite(x)) throw invalidVectorInput('Vector components must be finite numbers.');
    norm += x * x;
  }
  // Cosine similarity of a zero vector is undefined (pgvector answers NaN, Qdrant cannot normalise it).
  if (norm === 0) throw invalidVectorInput('A zero vector has no direction: cosine similarity is undefined.');
}

/** Validates the points and keeps the last one of each id, as a sequence of single upserts would. */
export function preparePoints(collection: string, spec: Pick<CollectionSpec, 'dimensions' | 'indexedKeys'>, points: readonly VectorPoint[]): VectorPoint[] {
  const byId = new Map<string, VectorPoint>();
  for (const p of points) {
    if (typeof p.id !== 'string' || p.id.length === 0) throw invalidVectorInput('Point ids must be non-empty strings.');
    checkVector(collection, spec.dimensions, p.vector);
    for (const key of spec.indexedKeys ?? []) {
      const v = p.payload[key];
      if (v !== undefined && typeof v !== 'string') throw invalidVectorInput(`Payload key "${key}" is indexed in "${collection}" and holds strings only.`);
    }
    byId.delete(p.id);
    byId.set(p.id, p);
  }
  return [...byId.values()];
}

export function checkFilter(filter: VectorFilter | undefined): void {
  for (const [key, cond] of Object.entries(filter ?? {})) {
    if (!KEY.test(key)) throw invalidVectorInput(`Filter key "${key}" must match ${KEY.source}.`);
    const values = typeof cond === 'object' && cond !== null ? cond.in : [cond];
    if (!Array.isArray(values)) throw invalidVectorInput(`Filter on "${key}" must be a value or { in: [...] }.`);
    for (const v of values as FilterScalar[]) {
      const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isSafeInteger(v));
      // Qdrant matches only keywords, integers and booleans exactly; floats would behave differently per adapter.
      if (!ok) throw invalidVectorInput(`Filter on "${key}" takes strings, integers or booleans.`, { key });
    }
  }
}

/** An empty `in` list matches nothing; adapters short-circuit instead of encoding "false" per backend. */
export function matchesNothing(filter: VectorFilter | undefined): boolean {
  return Object.values(filter ?? {}).some((c) => typeof c === 'object' && c !== null && c.in.length === 0);
}

export function checkTopK(topK: number): void {
  if (!Number.isInteger(topK) || topK < 1) throw invalidVectorInput(`topK must be a positive integer, got ${topK}.`);
}

/** The filter's conditions as (key, allowed values) pairs. */
export function conditions(filter: VectorFilter | undefined): Array<[string, FilterScalar[]]> {
  return Object.entries(filter ?? {}).map(([k, c]) => [k, typeof c === 'object' && c !== null ? [...c.in] : [c]]);
}
