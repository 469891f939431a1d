import { createTtlMemo } from '../memo.js';
import type { Sql } from '../store/sql.js';
import { collectionAccess, type Collections } from './collections.js';

/** How long "which collections of this tenant have documents" is reused before SQL is asked again. */
const TTL_MS = 5_000;
/** Tenants remembered at once; past it the memo starts over (it is only a memo). */
const MAX_TENANTS = 10_000;

/**
 * Which knowledge collections a request's prompt draws on: those it names (each must be visible
 * to its key, else 404), or every collection of the tenant that has a ready document and that the
 * key may see. The second is asked on every chat request, so it is memoised per tenant for a few
 * seconds: a tenant without documents pays a map lookup, and a new document is used within seconds
 * on every gateway instance (at once on the one that ingested it, through `invalidate`).
 */
export function createKnowledgeScope(deps: { sql: Sql; collections: Collections }) {
  const memo = createTtlMemo<string[]>(TTL_MS, MAX_TENANTS);
  const withDocuments = (tenantId: string): Promise<string[]> =>
    memo.get(tenantId, () =>
      deps.sql
        .query<{ collection_id: string }>("SELECT DISTINCT collection_id FROM documents WHERE tenant_id = $1 AND status = 'ready'", [tenantId])
        .then((r) => r.rows.map((x) => x.collection_id)),
    );

  return {
    async resolve(tenantId: string, scopes: readonly string[], requested?: readonly string[]): Promise<string[]> {
      const access = collectionAccess(scopes);
      if (requested) return (await Promise.all(requested.map((id) => deps.collections.get(tenantId, access, id)))).map((c) => c.id);
      const ids = await withDocuments(tenantId);
      return access.all ? ids : ids.filter((id) => access.ids.has(id));
    },
    invalidate(tenantId: string): void {
      memo.delete(tenantId);
    },
  };
}

export type KnowledgeScope = ReturnType<typeof createKnowledgeScope>;
