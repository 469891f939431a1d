/**
 * The `VectorStore` port: named collections of embedding vectors, searched by cosine similarity with
 * small payload filters. Owned by the core; adapters (in-memory reference, pgvector over the `Sql`
 * port, Qdrant) own their connections and expose no driver type.
 *
 * Tenant isolation is part of the signature: every data call takes a `tenantId` (required by type,
 * checked non-empty at run time), and the tenant is stored beside the payload, never inside it, so no
 * payload key or filter can reach another tenant's points. The same point id in two tenants is two
 * different points.
 */

/** A payload value: what Qdrant, jsonb and the reference can all store and compare the same way. */
export type PayloadValue = string | number | boolean | null | readonly string[];
export type Payload = Readonly<Record<string, PayloadValue>>;

/** Filter values: strings, integers and booleans (Qdrant matches nothing else exactly). */
export type FilterScalar = string | number | boolean;
/**
 * A condition on one payload key: equality, or membership in a list. On a `string[]` payload value
 * equality means "contains". An empty `in` list matches nothing.
 */
export type FilterCondition = FilterScalar | { readonly in: readonly FilterScalar[] };
/** All conditions must hold (AND). Keys are payload keys: `[A-Za-z_][A-Za-z0-9_]*`. */
export type VectorFilter = Readonly<Record<string, FilterCondition>>;

export type Vector = Float32Array | readonly number[];

export interface CollectionSpec {
  /** `[a-z][a-z0-9_]{0,47}`: it becomes a table or collection name. */
  name: string;
  dimensions: number;
  metric: 'cosine';
  /** The embedding model that made the vectors, so a model change is detected, never mixed. */
  model: string;
  /**
   * Payload keys searches filter on most, holding selective string scalars (a session, a user): the
   * stores index them, and a search filtered on one scans only its points (exactly, not through the
   * approximate index) when they are few. Adding keys to an existing collection is allowed.
   */
  indexedKeys?: readonly string[];
}

export interface VectorPoint {
  id: string;
  vector: Vector;
  payload: Payload;
}

export interface TenantScope {
  collection: string;
  tenantId: string;
}

export interface SearchHit {
  id: string;
  /** Cosine similarity in [-1, 1]; higher is closer. */
  score: number;
  payload: Payload;
}

export interface VectorStore {
  readonly kind: 'memory' | 'pgvector' | 'qdrant';
  /**
   * Creates the collection, or checks that the existing one has the same dimensions and model.
   * A difference throws `vector_collection_mismatch` (409): re-embed into a new collection, or drop
   * this one first. `getCollection` lets a caller check before deciding.
   */
  ensureCollection(spec: CollectionSpec): Promise<{ created: boolean }>;
  getCollection(args: { name: string }): Promise<CollectionSpec | null>;
  /** Removes the collection and all its points, for every tenant. Missing is fine. */
  dropCollection(args: { name: string }): Promise<void>;
  /** Inserts or overwrites by id within the tenant. Within one call the last point of an id wins. */
  upsert(args: TenantScope & { points: readonly VectorPoint[] }): Promise<void>;
  delete(args: TenantScope & { ids: readonly string[] }): Promise<void>;
  /** Deletes the tenant's points that match; an empty filter deletes all of the tenant's points. */
  deleteByFilter(args: TenantScope & { filter: VectorFilter }): Promise<void>;
  /** The tenant's `topK` nearest points by cosine similarity, best first. */
  search(args: TenantScope & { vector: Vector; topK: number; filter?: VectorFilter }): Promise<SearchHit[]>;
  count(args: TenantScope & { filter?: VectorFilter }): Promise<number>;
  close(): Promise<void>;
}
