import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Sql } from '../store/sql.js';
import { createMemoryVectorStore } from './memory/adapter.js';
import type { VectorStore } from './port.js';

/**
 * Builds the vector store configured for a use (`vector.collections.<use>`, else `vector`). 'auto' keeps the embedded default self-contained: pgvector in
 * the same database when it has the extension (PGlite always does), otherwise the in-memory store —
 * not durable, which the episodic indexer knows (`durable: false`) and answers by re-embedding
 * from SQL at start-up.
 */
export async function createVectorStore(
  config: Config['vector'],
  use: keyof Config['vector']['collections'],
  sql: Sql,
  log: Logger,
): Promise<{ store: VectorStore; durable: boolean }> {
  // A per-use entry inherits what it does not set (the Qdrant URL and key) from the default.
  const cfg = { ...config, ...config.collections[use] };
  let kind = cfg.kind;
  if (kind === 'auto') {
    kind = (await hasPgvector(sql)) ? 'pgvector' : 'memory';
    if (kind === 'memory') {
      log.warn(
        'the database has no pgvector extension: vectors are kept in memory and re-embedded from SQL at start; run one gateway per database this way (another instance would not see them) or set VECTOR_STORE=qdrant and QDRANT_URL, or install pgvector',
      );
    }
  }
  switch (kind) {
    case 'pgvector': {
      const { createPgvectorStore } = await import('./pgvector/adapter.js');
      return { store: createPgvectorStore({ sql }), durable: true };
    }
    case 'qdrant': {
      if (!cfg.url) throw new Error('vector.kind is qdrant but no vector.url (QDRANT_URL) is set.');
      const { createQdrantVectorStore } = await import('./qdrant/adapter.js');
      return { store: createQdrantVectorStore({ url: cfg.url, apiKey: cfg.apiKey }), durable: true };
    }
    default:
      return { store: createMemoryVectorStore(), durable: false };
  }
}

async function hasPgvector(sql: Sql): Promise<boolean> {
  if (sql.kind === 'pglite') return true;
  const { rows } = await sql.query<{ ok: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS ok");
  return rows[0]?.ok === true;
}
