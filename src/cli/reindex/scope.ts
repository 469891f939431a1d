import type { Sql } from '../../store/sql.js';
import type { CollectionSpec, VectorStore } from '../../vector/port.js';

/** What every part of a reindex is given: SQL, the tenant it is limited to, and where progress goes. */
export interface PartScope {
  sql: Sql;
  /** One tenant's data only; undefined: every tenant's. */
  tenantId: string | undefined;
  /** Items done so far, and the total when it is known. */
  progress(done: number, total?: number): void;
}

/** What a part did: its main count, and a phrase for the summary. */
export interface PartOutcome {
  count: number;
  detail: string;
}

/**
 * Empties a collection for the scope before it is rewritten from SQL. For every tenant, the
 * collection is dropped and created again: the only way through the port to also remove vectors SQL
 * no longer knows (a deletion made while the store was down), and on pgvector a cheap DROP TABLE
 * instead of a large DELETE. For one tenant, its points are deleted.
 */
export async function emptyCollection(vectors: VectorStore, spec: CollectionSpec, tenantId: string | undefined): Promise<void> {
  if (tenantId === undefined) {
    await vectors.dropCollection({ name: spec.name });
    await vectors.ensureCollection(spec);
    return;
  }
  await vectors.ensureCollection(spec);
  await vectors.deleteByFilter({ collection: spec.name, tenantId, filter: {} });
}
