import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import type { CollectionSpec, Payload, SearchHit, VectorStore } from '../port.js';
import { createSpecCache } from '../spec-cache.js';
import { checkFilter, checkSameSpec, checkSpec, checkTenant, checkTopK, checkVector, matchesNothing, preparePoints } from '../validate.js';
import { ID_KEY, PAYLOAD_KEY, pointUuid, qdrantFilter, TENANT_KEY } from './mapping.js';

export interface QdrantOptions {
  url: string;
  apiKey?: string;
  /** Prepended to collection names, so several gateways (or test runs) can share one Qdrant. */
  prefix?: string;
}

/**
 * The Qdrant adapter. One Qdrant collection per gateway collection; tenants share it and are
 * separated by a `tenant_id` keyword payload index marked `is_tenant` (Qdrant's multitenancy
 * layout), and by point ids derived from the tenant. The embedding model is kept in the collection's
 * metadata (Qdrant ≥ 1.16); an older server ignores it, and then only dimensions are checked.
 */
export function createQdrantVectorStore(opts: QdrantOptions): VectorStore {
  const client = new QdrantClient({ url: opts.url, apiKey: opts.apiKey, checkCompatibility: false });
  const full = (name: string) => `${opts.prefix ?? ''}${name}`;

  const load = async (name: string): Promise<CollectionSpec | null> => {
    const { exists } = await client.collectionExists(full(name));
    if (!exists) return null;
    const info = await client.getCollection(full(name));
    const vectors = info.config.params.vectors as Schemas['VectorParams'] | undefined;
    const metadata = (info.config.metadata ?? {}) as Record<string, unknown>;
    const model = typeof metadata.model === 'string' ? metadata.model : null;
    return { name, dimensions: vectors?.size ?? 0, metric: 'cosine', model: model ?? '' };
  };
  const specs = createSpecCache(load);
  const scoped = async (collection: string, tenantId: string) => {
    checkTenant(tenantId);
    return specs.get(collection);
  };

  return {
    kind: 'qdrant',
    async ensureCollection(spec) {
      checkSpec(spec);
      let existing = await load(spec.name);
      let created = false;
      if (!existing) {
        try {
          await client.createCollection(full(spec.name), { vectors: { size: spec.dimensions, distance: 'Cosine' } });
          created = true;
        } catch (err) {
          // Another gateway may have created it between our check and our create; its spec is checked below.
          existing = await load(spec.name);
          if (!existing) throw err;
        }
      }
      if (created) {
        // createCollection of this client version drops `metadata`; updateCollection passes it through.
        await client.updateCollection(full(spec.name), { metadata: { model: spec.model, dimensions: spec.dimensions, metric: spec.metric } });
        await client.createPayloadIndex(full(spec.name), {
          wait: true,
          field_name: TENANT_KEY,
          field_schema: { type: 'keyword', is_tenant: true },
        });
      } else if (existing) {
        // A server without collection metadata reports no model: compare dimensions only.
        checkSameSpec({ ...existing, model: existing.model || spec.model }, spec);
      }
      // Filtered keys need a payload index for Qdrant to filter before (not after) the HNSW search.
      for (const key of spec.indexedKeys ?? []) {
        await client.createPayloadIndex(full(spec.name), { wait: true, field_name: `${PAYLOAD_KEY}.${key}`, field_schema: 'keyword' });
      }
      specs.set(spec);
      return { created };
    },
    async getCollection({ name }) {
      return load(name);
    },
    async dropCollection({ name }) {
      specs.forget(name);
      const { exists } = await client.collectionExists(full(name));
      if (exists) await client.deleteCollection(full(name));
    },
    async upsert({ collection, tenantId, points }) {
      const spec = await scoped(collection, tenantId);
      const batch = preparePoints(collection, spec, points);
      if (batch.length === 0) return;
      // `wait: true` so a search right after the upsert sees it, as with the SQL adapter.
      await client.upsert(full(collection), {
        wait: true,
        points: batch.map((p) => ({
          id: pointUuid(tenantId, p.id),
          vector: Array.from(p.vector),
          payload: { [TENANT_KEY]: tenantId, [ID_KEY]: p.id, [PAYLOAD_KEY]: p.payload as Record<string, unknown> },
        })),
      });
    },
    async delete({ collection, tenantId, ids }) {
      await scoped(collection, tenantId);
      if (ids.length === 0) return;
      // The tenant is inside each derived id, so another tenant's point of the same id is untouched.
      await client.delete(full(collection), { wait: true, points: ids.map((id) => pointUuid(tenantId, id)) });
    },
    async deleteByFilter({ collection, tenantId, filter }) {
      await scoped(collection, tenantId);
      checkFilter(filter);
      if (matchesNothing(filter)) return;
      await client.delete(full(collection), { wait: true, filter: qdrantFilter(tenantId, filter) });
    },
    async search({ collection, tenantId, vector, topK, filter }) {
      const spec = await scoped(collection, tenantId);
      checkVector(collection, spec.dimensions, vector);
      checkTopK(topK);
      checkFilter(filter);
      if (matchesNothing(filter)) return [];
      const res = await client.query(full(collection), {
        query: Array.from(vector),
        limit: topK,
        filter: qdrantFilter(tenantId, filter),
        with_payload: true,
      });
      return res.points.map((p): SearchHit => {
        const payload = (p.payload ?? {}) as Record<string, unknown>;
        return { id: String(payload[ID_KEY]), score: p.score, payload: (payload[PAYLOAD_KEY] ?? {}) as Payload };
      });
    },
    async count({ collection, tenantId, filter }) {
      await scoped(collection, tenantId);
      checkFilter(filter);
      if (matchesNothing(filter)) return 0;
      const res = await client.count(full(collection), { filter: qdrantFilter(tenantId, filter), exact: true });
      return res.count;
    },
    async close() {
      // The REST client holds no connection that needs closing.
    },
  };
}
