import type { CollectionSpec, Payload, SearchHit, Vector, VectorFilter, VectorStore } from '../port.js';
import { collectionNotFound } from '../errors.js';
import { checkFilter, checkSameSpec, checkSpec, checkTenant, checkTopK, checkVector, conditions, matchesNothing, preparePoints } from '../validate.js';

interface StoredPoint {
  id: string;
  vector: Float32Array;
  norm: number;
  payload: Payload;
}

interface Collection {
  spec: CollectionSpec;
  /** tenant → id → point: tenants never share a map, so ids cannot cross. */
  tenants: Map<string, Map<string, StoredPoint>>;
}

/** Equality, or containment for a `string[]` payload value (Qdrant's and the jsonb adapter's rule). */
export function matchesFilter(payload: Payload, filter: VectorFilter | undefined): boolean {
  return conditions(filter).every(([key, allowed]) => {
    const value = payload[key];
    if (Array.isArray(value)) return allowed.some((a) => value.includes(a as string));
    return allowed.some((a) => a === value);
  });
}

const norm = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) * (v[i] as number);
  return Math.sqrt(s);
};

function cosine(a: Float32Array, aNorm: number, b: Vector, bNorm: number): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return dot / (aNorm * bNorm);
}

/**
 * The in-memory reference adapter: brute-force cosine over every point of the tenant. It is the
 * ground truth of the conformance suite and fine for tests and tiny deployments; nothing persists.
 */
export function createMemoryVectorStore(): VectorStore {
  const collections = new Map<string, Collection>();
  const get = (name: string): Collection => {
    const c = collections.get(name);
    if (!c) throw collectionNotFound(name);
    return c;
  };
  const tenantPoints = (name: string, tenantId: string): Map<string, StoredPoint> => {
    checkTenant(tenantId);
    const c = get(name);
    let points = c.tenants.get(tenantId);
    if (!points) {
      points = new Map();
      c.tenants.set(tenantId, points);
    }
    return points;
  };
  const selected = (points: Map<string, StoredPoint>, filter: VectorFilter | undefined): StoredPoint[] => {
    checkFilter(filter);
    if (matchesNothing(filter)) return [];
    return [...points.values()].filter((p) => matchesFilter(p.payload, filter));
  };

  return {
    kind: 'memory',
    async ensureCollection(spec) {
      checkSpec(spec);
      const existing = collections.get(spec.name);
      if (existing) {
        checkSameSpec(existing.spec, spec);
        const keys = new Set([...(existing.spec.indexedKeys ?? []), ...(spec.indexedKeys ?? [])]);
        if (keys.size > 0) existing.spec = { ...existing.spec, indexedKeys: [...keys].sort() };
        return { created: false };
      }
      collections.set(spec.name, { spec: { ...spec }, tenants: new Map() });
      return { created: true };
    },
    async getCollection({ name }) {
      const c = collections.get(name);
      return c ? { ...c.spec } : null;
    },
    async dropCollection({ name }) {
      collections.delete(name);
    },
    async upsert({ collection, tenantId, points }) {
      const target = tenantPoints(collection, tenantId);
      // Validate every point before writing any, as the SQL adapter's single statement does.
      for (const p of preparePoints(collection, get(collection).spec, points)) {
        const vector = Float32Array.from(p.vector);
        // Copy the payload (and its arrays) so a caller mutating its object later changes nothing here.
        const payload = structuredClone(p.payload) as Payload;
        target.set(p.id, { id: p.id, vector, norm: norm(vector), payload });
      }
    },
    async delete({ collection, tenantId, ids }) {
      const target = tenantPoints(collection, tenantId);
      for (const id of ids) target.delete(id);
    },
    async deleteByFilter({ collection, tenantId, filter }) {
      const target = tenantPoints(collection, tenantId);
      for (const p of selected(target, filter)) target.delete(p.id);
    },
    async search({ collection, tenantId, vector, topK, filter }) {
      const target = tenantPoints(collection, tenantId);
      checkVector(collection, get(collection).spec.dimensions, vector);
      checkTopK(topK);
      // Stored vectors are float32 like pgvector's and Qdrant's, so scores agree to float32 precision.
      const q = Float32Array.from(vector);
      const qNorm = norm(q);
      const hits: SearchHit[] = selected(target, filter).map((p) => ({
        id: p.id,
        score: cosine(p.vector, p.norm, q, qNorm),
        payload: structuredClone(p.payload) as Payload,
      }));
      hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
      return hits.slice(0, topK);
    },
    async count({ collection, tenantId, filter }) {
      return selected(tenantPoints(collection, tenantId), filter).length;
    },
    async close() {
      collections.clear();
    },
  };
}
