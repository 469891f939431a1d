import type { Logger } from 'pino';
import type { Embedder } from '../../embeddings/port.js';
import { createFactIndex } from '../../memory/facts/index.js';
import type { MemoryStore } from '../../memory/facts/store.js';
import type { VectorStore } from '../../vector/port.js';
import { emptyCollection, type PartOutcome, type PartScope } from './scope.js';

/** Memories read per query, as the fact index's own rebuild pages. */
const PAGE = 256;

/**
 * Fact memory vectors: the collection is emptied and the vector of every current memory written
 * again from SQL by the fact index. For every tenant that is its `rebuild`; for one tenant the
 * tenant's memories are paged here and written the same way (`rebuild` has no tenant filter).
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
  let done = 0;
  if (tenantId === undefined) {
    done = await index.rebuild((n) => scope.progress(n, total));
  } else {
    for (let after = ''; ; ) {
      const { rows } = await sql.query<{ id: string }>(
        `SELECT id FROM memories WHERE tenant_id = $1 AND valid_to IS NULL AND id > $2 ORDER BY id LIMIT ${PAGE}`,
        [tenantId, after],
      );
      const last = rows[rows.length - 1];
      if (!last) break;
      await index.write(
        tenantId,
        await deps.store.getMany(
          tenantId,
          rows.map((r) => r.id),
        ),
        [],
      );
      done += rows.length;
      scope.progress(done, total);
      after = last.id;
    }
  }
  return { count: done, detail: 'current fact memories re-embedded' };
}
