import type { Embedder } from '../embeddings/port.js';
import type { Sql } from '../store/sql.js';
import type { VectorStore } from '../vector/port.js';

export interface ChunkHit {
  chunk_id: string;
  collection_id: string;
  document_id: string;
  title: string;
  seq: number;
  heading_path: string[];
  char_start: number;
  char_end: number;
  text: string;
  tokens: number;
  score: number;
  /** Found by full text, by vector, or both. */
  via: 'lexical' | 'vector' | 'both';
}

/** A chunk as SQL returns it: the hit before it is scored. */
type ChunkRow = Omit<ChunkHit, 'chunk_id' | 'tokens' | 'score' | 'via'> & { id: string; token_count: number };

/** Both retrievers fused (the default), or one alone — for comparing them. */
export type SearchMode = 'hybrid' | 'lexical' | 'vector';

const RRF_K = 20;
const CANDIDATES = 50;

/**
 * Hybrid search over a collection's chunks of ready documents: full text (Postgres, any query
 * term, ranked by cover density) and vectors, fused by reciprocal rank. A vector hit counts only if
 * its chunk still exists in a ready document, so a search never sees a half-replaced document.
 */
export function createChunkSearch(deps: { sql: Sql; vectors: VectorStore; embedder: Embedder; collection: string }) {
  const { sql, vectors, embedder } = deps;
  return {
    /** The best `topK` chunks for `query` across `collectionIds` (already checked against the caller's access). */
    async search(tenantId: string, collectionIds: readonly string[], query: string, topK: number, mode: SearchMode = 'hybrid'): Promise<ChunkHit[]> {
      if (collectionIds.length === 0) return [];
      const ids = [...collectionIds];
      const none = Promise.resolve({ rows: [] as Array<{ id: string }> });
      const [lexical, semantic] = await Promise.all([
        mode === 'vector' ? none : sql.query<{ id: string }>(
          `WITH q AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS tq FROM unnest(to_tsvector('english', $3)))
           SELECT c.id::text AS id FROM q, chunks c JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id AND d.status = 'ready'
           WHERE c.tenant_id = $1 AND c.collection_id = ANY($2::text[]) AND q.tq IS NOT NULL AND c.search @@ q.tq
           ORDER BY ts_rank_cd(c.search, q.tq) DESC, c.id LIMIT $4`,
          [tenantId, ids, query, CANDIDATES],
        ),
        mode === 'lexical'
          ? []
          : embedder
              .embed([query], { kind: 'query' })
              .then(([v]) => vectors.search({ collection: deps.collection, tenantId, vector: v as Float32Array, topK: CANDIDATES, filter: { collection: { in: ids } } })),
      ]);
      const fused = new Map<string, { score: number; lexical: boolean; vector: boolean }>();
      const add = (ids: string[], kind: 'lexical' | 'vector') =>
        ids.forEach((id, rank) => {
          const f = fused.get(id) ?? { score: 0, lexical: false, vector: false };
          f.score += 1 / (RRF_K + rank + 1);
          f[kind] = true;
          fused.set(id, f);
        });
      add(lexical.rows.map((r) => r.id), 'lexical');
      add(semantic.map((h) => h.id), 'vector');
      const best = [...fused.entries()].sort((a, b) => b[1].score - a[1].score);
      if (best.length === 0) return [];
      const { rows } = await sql.query<ChunkRow>(
        `SELECT c.id::text AS id, c.collection_id, c.document_id, d.title, c.seq, c.heading_path, c.char_start, c.char_end, c.text, c.token_count
         FROM chunks c JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id AND d.status = 'ready'
         WHERE c.tenant_id = $1 AND c.collection_id = ANY($2::text[]) AND c.id = ANY($3::bigint[])`,
        [tenantId, ids, best.map(([id]) => id)],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const hits: ChunkHit[] = [];
      for (const [id, f] of best) {
        const r = byId.get(id);
        if (!r) continue;
        const { id: _id, token_count, ...chunk } = r;
        hits.push({ chunk_id: id, ...chunk, tokens: token_count, score: Number(f.score.toFixed(5)), via: f.lexical && f.vector ? 'both' : f.lexical ? 'lexical' : 'vector' });
        if (hits.length === topK) break;
      }
      return hits;
    },
  };
}

export type ChunkSearch = ReturnType<typeof createChunkSearch>;
