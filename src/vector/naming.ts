import { createHash } from 'node:crypto';
import type { CollectionSpec } from './port.js';

/**
 * The spec of a collection of `kind` ("turns", "chunks"…) made by one embedding model. The name
 * carries the model, so a model change writes to a new collection (re-embedded from SQL) and
 * vectors of two models are never searched together.
 */
export function modelCollection(kind: string, embedder: { model: string; dimensions: number }, indexedKeys: readonly string[]): CollectionSpec {
  const slug = embedder.model.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const hash = createHash('sha1').update(embedder.model).digest('hex').slice(0, 8);
  return { name: `${kind}_${slug.slice(0, 30)}_${hash}`, dimensions: embedder.dimensions, metric: 'cosine', model: embedder.model, indexedKeys };
}
