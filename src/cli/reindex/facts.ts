import type { Logger } from 'pino';
import type { Embedder } from '../../embeddings/port.js';
import { createFactIndex } from '../../memory/facts/index.js';
import type { MemoryStore } from '../../memory/facts/store.js';
import type { VectorStore } from '../../vector/port.js';
import { emptyCollection, type PartOutcome, type PartScope } from './scope.js';

/**
 * Fact memory vectors: the collection (or the tenant's points) is emptied and the vector of every
 * current memory written again from SQL by the fact index's `rebuild`.
 */
export async function rewriteFacts(
  deps: { store: MemoryStore; vectors: VectorStore; embedder: Embedder; log: Logger },
  scope: PartScope,
): Promise<PartOutcome> {
  const { sql, tenantId } = scope;
  const index = createFactIndex(deps);
  const { rows: counted } = await sql.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM memories WHERE valid_to IS NULL AND ($1::text IS NULL OR tenant_id = $1)',
    [tenantId ?? null],
  );
  const total = counted[0]?.n ?? 0;
  await emptyCollection(deps.vectors, index.spec, tenantId);
  scope.progress(0, total);
  const done = await index.rebuild({ tenantId, onPage: (n) => scope.progress(n, total) });
  return { count: done, detail: 'current fact memories re-embedded' };
}
