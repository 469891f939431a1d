import { GatewayError, notFound } from '../errors.js';
import type { Sql } from '../store/sql.js';
import { newId } from '../tenancy/ids.js';

export interface Chunking {
  /** Target chunk size in tokens (the model's encoding). */
  target_tokens: number;
  /** Tokens repeated from the end of one chunk at the start of the next. */
  overlap_tokens: number;
  /**
   * Tokens in one embedded passage: a chunk is embedded as passages of at most this size and scores as
   * its best one (0, or absent in collections made before it existed: one vector of the whole chunk).
   */
  passage_tokens?: number;
}

export interface Collection {
  id: string;
  name: string;
  description: string;
  embedding_model: string;
  chunking: Chunking;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** Which collections a caller may see: all of the tenant's, or only those its key names. */
export type CollectionAccess = { all: true } | { all: false; ids: ReadonlySet<string> };

/** Key scope that limits a key to one collection (a key with none of them reaches them all). */
export const COLLECTION_SCOPE_PREFIX = 'collection:';

export function collectionAccess(scopes: readonly string[]): CollectionAccess {
  const ids = scopes.filter((s) => s.startsWith(COLLECTION_SCOPE_PREFIX)).map((s) => s.slice(COLLECTION_SCOPE_PREFIX.length));
  return ids.length === 0 ? { all: true } : { all: false, ids: new Set(ids) };
}

const COLUMNS = 'id, name, description, embedding_model, chunking, metadata, created_at, updated_at';

function present(r: Collection & { created_at: Date | string; updated_at: Date | string }): Collection {
  return { ...r, created_at: new Date(r.created_at).toISOString(), updated_at: new Date(r.updated_at).toISOString() };
}

/** Collections in SQL, always within a tenant and the caller's access. */
export function createCollections(sql: Sql) {
  const visible = (access: CollectionAccess, id: string) => access.all || access.ids.has(id);

  return {
    async create(tenantId: string, input: Omit<Collection, 'id' | 'created_at' | 'updated_at'>): Promise<Collection> {
      const { rows } = await sql
        .query<Collection>(
          `INSERT INTO collections (tenant_id, id, name, description, embedding_model, chunking, metadata)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
          [tenantId, newId('col'), input.name, input.description, input.embedding_model, JSON.stringify(input.chunking), JSON.stringify(input.metadata)],
        )
        .catch((err: { code?: string }) => {
          if (err.code === '23505') {
            throw new GatewayError(`A collection named "${input.name}" exists in this tenant.`, { status: 409, code: 'collection_exists', category: 'client', param: 'name' });
          }
          throw err;
        });
      return present(rows[0] as Collection);
    },

    async list(tenantId: string, access: CollectionAccess): Promise<Collection[]> {
      const { rows } = await sql.query<Collection>(`SELECT ${COLUMNS} FROM collections WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId]);
      return rows.filter((r) => visible(access, r.id)).map(present);
    },

    /** The collection, or 404 when the tenant has none by that id or the key may not see it. */
    async get(tenantId: string, access: CollectionAccess, id: string): Promise<Collection> {
      const { rows } = visible(access, id)
        ? await sql.query<Collection>(`SELECT ${COLUMNS} FROM collections WHERE tenant_id = $1 AND id = $2`, [tenantId, id])
        : { rows: [] };
      const r = rows[0];
      if (!r) throw notFound(`No collection with id ${id}.`, 'collection_not_found');
      return present(r);
    },

    async delete(tenantId: string, access: CollectionAccess, id: string): Promise<void> {
      const { rowCount } = visible(access, id) ? await sql.query('DELETE FROM collections WHERE tenant_id = $1 AND id = $2', [tenantId, id]) : { rowCount: 0 };
      if (rowCount === 0) throw notFound(`No collection with id ${id}.`, 'collection_not_found');
    },
  };
}

export type Collections = ReturnType<typeof createCollections>;
