import { GatewayError } from '../errors.js';
import type { CollectionSpec } from './port.js';

/** The vector store's errors, one place so every adapter raises the same codes. */
export const dimensionMismatch = (collection: string, expected: number, got: number): GatewayError =>
  new GatewayError(`Vector for collection "${collection}" has ${got} dimensions; the collection expects ${expected}.`, {
    status: 400,
    code: 'vector_dimension_mismatch',
    category: 'client',
    details: { collection, expected, got },
  });

export const collectionMismatch = (existing: CollectionSpec, requested: CollectionSpec): GatewayError =>
  new GatewayError(
    `Collection "${existing.name}" holds ${existing.dimensions}-dimension vectors of model "${existing.model}", ` +
      `not ${requested.dimensions}-dimension vectors of "${requested.model}": re-embed into a new collection or drop it first.`,
    {
      status: 409,
      code: 'vector_collection_mismatch',
      category: 'client',
      details: { existing: { ...existing }, requested: { ...requested } },
    },
  );

export const collectionNotFound = (name: string): GatewayError =>
  new GatewayError(`Vector collection "${name}" does not exist; call ensureCollection first.`, {
    status: 404,
    code: 'vector_collection_not_found',
    category: 'client',
    details: { collection: name },
  });

export const invalidVectorInput = (message: string, details?: Record<string, unknown>): GatewayError =>
  new GatewayError(message, { status: 400, code: 'vector_invalid_input', category: 'client', details });
