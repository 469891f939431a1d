import type { Embedder } from '../embeddings/port.js';
import { createTtlMemo } from '../memo.js';
import type { Reranker } from './rerank.js';
import type { Sql, SqlParam } from '../store/sql.js';
import type { VectorStore } from '../vector/port.js';

export interface ChunkHit {
  chunk_id: string;
  collection_id: string;
  document_id: string;
  title: string;
  seq: number;
  heading_path: string[];
  /** Pages the chunk spans (pdf), else null. */
  page: number | null;
  page_end: number | null;
  char_start: number;
  char_end: number;
  text: string;
  tokens: number;
  score: number;
  /** Found by full text, by vector, or both. */
  via: 'lexical' | 'vector' | 'both';
  /** Passages of the chunk that match the query's words, matches in **bold** (when asked for). */
  highlights?: string[];
  /** The reranker's score, when the search was reranked (the hits are then in its order). */
  rerank_score?: number;
}

/** A chunk as SQL returns it: the hit before it is scored. */
type ChunkRow = Omit<ChunkHit, 'chunk_id' | 'tokens' | 'score' | 'via' | 'highlights'> & { id: string; token_count: number; headline?: string | null };

/** Both retrievers fused (the default), or one alone — for comparing them. */
export type SearchMode = 'hybrid' | 'lexical' | 'vector';

/** A condition on document metadata: equal to a value, or to one of several. */
export type MetadataFilter = Record<string, string | number | boolean | { in: Array<string | number | boolean> }>;

export interface SearchOptions {
  topK: number;
  mode?: SearchMode;
  /** The query's embedding when the caller already has it (the context pipeline computes it once). */
  vector?: Promise<Float32Array>;
  /** Only chunks of documents whose metadata matches every key. */
  filter?: MetadataFilter;
  highlights?: boolean;
  /** Rerank the best fused candidates with the configured reranker (default: when one is configured). */
  rerank?: boolean;
}

/** A candidate and its score in one retriever's list. */
type Scored = { id: string; score: number };

const BM25_K1 = 1.2;
const BM25_B = 0.75;
/**
 * Chunks read to choose full-text candidates: the rarest query terms choose them, as many terms as
 * hold this many chunks together. A question of common words only ("what did Caroline like?") takes
 * the chunks holding its two rarest together, still at most this many.
 */
const CANDIDATE_POSTINGS = 2_000;
/** Full-text candidates rescored with term frequencies (the rest are ranked by the terms they hold). */
const RESCORED = 100;
/** How long corpus statistics (chunk count, mean length) are reused, and the chunks the mean is taken over. */
const STATS_TTL_MS = 60_000;
const STATS_SAMPLE = 2_000;
/**
 * Candidates each list (full text, vectors) brings to the fusion: three per chunk asked for, between
 * 24 and 50. A small top_k then costs the vector index a third of a large one's work (pgvector's
 * ef_search follows the points asked for).
 */
const MIN_CANDIDATES = 24;
const MAX_CANDIDATES = 50;
const candidatesFor = (topK: number): number => Math.min(MAX_CANDIDATES, Math.max(MIN_CANDIDATES, 3 * topK));
/** Vector candidates when a metadata filter will drop some of them after the search. */
const FILTERED_CANDIDATES = 200;
/** Points fetched per chunk wanted from the vector store: a chunk's passages may crowd its neighbours out. */
const PASSAGES_PER_CHUNK = 3;
const FRAGMENT_DELIMITER = '\u241e';

/** A lexeme as a tsquery operand: quoted, so nothing in it is read as an operator. */
function tsLexeme(lexeme: string): string {
  return `'${lexeme.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The SQL condition on `d.metadata` for a filter, with its parameters numbered from `from`.
 * Equality is containment (`@>`, which the value's JSON type must match); `in` compares as text.
 */
function metadataCondition(filter: MetadataFilter | undefined, from: number): { sql: string; params: SqlParam[] } {
  const equal: Record<string, unknown> = {};
  const parts: string[] = [];
  const params: SqlParam[] = [];
  for (const [key, value] of Object.entries(filter ?? {})) {
    if (typeof value === 'object') {
      params.push(key, value.in.map(String));
      parts.push(`(d.metadata->>$${from + params.length - 2}) = ANY($${from + params.length - 1}::text[])`);
    } else equal[key] = value;
  }
  if (Object.keys(equal).length > 0) {
    params.push(JSON.stringify(equal));
    parts.push(`d.metadata @> $${from + params.length - 1}::jsonb`);
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

/**
 * Hybrid search over a collection's chunks of ready documents: full text (Postgres full-text match, any
 * query term, ranked by BM25) and vectors, fused by their relative scores. A vector hit counts only if
 * its chunk still exists in a ready document, so a search never sees a half-replaced document.
 */
export function createChunkSearch(deps: {
  sql: Sql;
  vectors: VectorStore;
  embedder: Embedder;
  collection: string;
  /** Weight of full text in the fusion (vectors get the rest). */
  lexicalWeight: number;
  /** Scores the best fused candidates again, and orders the hits by its scores. */
  reranker?: Reranker | undefined;
  /** Fused candidates the reranker scores (at least top_k). */
  rerankCandidates?: number;
  /** Told when the reranker fails: the hits then keep the fused order. */
  onRerankError?: (err: Error) => void;
}) {
  const { sql, vectors, embedder } = deps;
  const stats = createTtlMemo<{ n: number; avgdl: number }>(STATS_TTL_MS);

  /**
   * BM25's corpus statistics: the chunks in the searched collections (from the documents' counts)
   * and their mean length in lexemes (from a sample: it only scales the length norm). Memoised for a
   * while — they drift slowly, and a full scan of a large collection would cost more than a search.
   */
  const corpusStats = (tenantId: string, ids: string[]): Promise<{ n: number; avgdl: number }> =>
    stats.get(`${tenantId}\u0000${[...ids].sort().join(',')}`, () =>
      sql
        .query<{ n: number; avgdl: number }>(
          `SELECT (SELECT coalesce(sum(chunk_count), 0)::int FROM documents WHERE tenant_id = $1 AND collection_id = ANY($2::text[]) AND status = 'ready') AS n,
                  (SELECT coalesce(avg(s.lexemes), 0)::float8 FROM (SELECT c.lexemes FROM chunks c WHERE c.tenant_id = $1 AND c.collection_id = ANY($2::text[]) LIMIT ${STATS_SAMPLE}) s) AS avgdl`,
          [tenantId, ids],
        )
        .then((r) => r.rows[0] ?? { n: 0, avgdl: 0 }),
    );

  /**
   * Full-text candidates ranked by BM25: each query term weighs its IDF, saturated by how often it
   * occurs and damped by the chunk's length (Postgres's ts_rank has no IDF, so a common word counts
   * as much as a rare name). Document frequencies come from `chunk_lexemes` (kept by triggers).
   *
   * Two stages bound the work however large the collection: the rarest terms choose candidates
   * through the GIN index, at most CANDIDATE_POSTINGS chunks, ranked by the IDF of the terms they
   * hold over their length (a plain column: no tsvector is read); then the best RESCORED of those
   * are scored by full BM25 over every query term, reading their term frequencies.
   */
  async function bm25(tenantId: string, ids: string[], query: string, filter: MetadataFilter | undefined, candidates: number) {
    const none = { rows: [] as Scored[] };
    const { n, avgdl } = await corpusStats(tenantId, ids);
    if (n === 0) return none;
    const { rows: terms } = await sql.query<{ lexeme: string; df: number }>(
      `SELECT q.lexeme, coalesce((SELECT sum(l.df)::int FROM chunk_lexemes l WHERE l.tenant_id = $1 AND l.collection_id = ANY($2::text[]) AND l.lexeme = q.lexeme), 0) AS df
       FROM (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $3))) q`,
      [tenantId, ids, query],
      { prepare: 'bm25_terms' },
    );
    const found = terms.filter((t) => t.df > 0).sort((a, b) => a.df - b.df || (a.lexeme < b.lexeme ? -1 : 1));
    const first = found[0];
    if (!first) return none;
    const idf = (df: number) => Math.log(1 + (Math.max(n, df) - df + 0.5) / (df + 0.5));
    const choosers: Array<{ tsquery: string; weight: number }> = [];
    const second = found[1];
    if (first.df > CANDIDATE_POSTINGS && second) {
      choosers.push({ tsquery: `${tsLexeme(first.lexeme)} & ${tsLexeme(second.lexeme)}`, weight: idf(first.df) + idf(second.df) });
    } else {
      let postings = 0;
      for (const t of found) {
        if (choosers.length > 0 && postings + t.df > CANDIDATE_POSTINGS) break;
        choosers.push({ tsquery: tsLexeme(t.lexeme), weight: idf(t.df) });
        postings += t.df;
      }
    }
    // Without a filter, whether a candidate's document is ready is checked for the rescored few only.
    const meta = metadataCondition(filter, 9);
    const documentJoin = "JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id AND d.status = 'ready'";
    return sql.query<Scored>(
      `WITH q AS (SELECT lexeme, idf FROM unnest($6::text[], $7::float8[]) AS q(lexeme, idf)),
            h AS (SELECT m.id, m.len, g.weight
                  FROM unnest($3::text[], $8::float8[]) AS g(tq, weight),
                  LATERAL (SELECT c.id, c.lexemes AS len FROM chunks c ${filter ? documentJoin : ''}
                           WHERE c.tenant_id = $1 AND c.collection_id = ANY($2::text[]) AND c.search @@ g.tq::tsquery${meta.sql}
                           LIMIT ${CANDIDATE_POSTINGS}) m),
            top AS (SELECT h.id, h.len FROM h GROUP BY h.id, h.len
                    ORDER BY sum(h.weight) / (1 - ${BM25_B} + ${BM25_B} * h.len / $5::float8) DESC, h.id LIMIT ${RESCORED}),
            tf AS (SELECT t.id, t.len, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS f
                   FROM top t JOIN chunks c ON c.id = t.id ${filter ? '' : documentJoin}, unnest(c.search) u WHERE u.lexeme = ANY($6::text[]))
       SELECT tf.id::text AS id, sum(q.idf * tf.f * ${BM25_K1 + 1} / (tf.f + ${BM25_K1} * (1 - ${BM25_B} + ${BM25_B} * tf.len / $5::float8))) AS score
       FROM tf JOIN q USING (lexeme)
       GROUP BY tf.id, tf.len
       ORDER BY score DESC, tf.id
       LIMIT $4`,
      [
        tenantId,
        ids,
        choosers.map((c) => c.tsquery),
        candidates,
        avgdl || 1,
        found.map((t) => t.lexeme),
        found.map((t) => idf(t.df)),
        choosers.map((c) => c.weight),
        ...meta.params,
      ],
      filter ? undefined : { prepare: 'bm25_rank' },
    );
  }

  /**
   * Chunks by their best passage's similarity: a chunk is embedded as one or more passages (points
   * whose payload names the chunk), so more points than chunks are asked for.
   */
  async function nearestChunks(tenantId: string, ids: string[], vector: Float32Array, filter: MetadataFilter | undefined, candidates: number): Promise<Scored[]> {
    const wanted = filter ? FILTERED_CANDIDATES : candidates;
    const hits = await vectors.search({ collection: deps.collection, tenantId, vector, topK: wanted * PASSAGES_PER_CHUNK, filter: { collection: { in: ids } } });
    const best = new Map<string, number>();
    for (const h of hits) {
      const chunk = typeof h.payload.chunk === 'string' ? h.payload.chunk : h.id;
      if (!best.has(chunk)) best.set(chunk, h.score);
      if (best.size === wanted) break;
    }
    return [...best].map(([id, score]) => ({ id, score }));
  }

  /** The hits in the reranker's order, its top `topK`; the fused order's when it fails (and `onRerankError` is told). */
  async function rerankHits(reranker: Reranker, query: string, hits: ChunkHit[], topK: number): Promise<ChunkHit[]> {
    if (hits.length === 0) return hits;
    let scores: number[];
    try {
      scores = await reranker.rerank(query, hits.map((h) => (h.heading_path.length > 0 ? `${h.heading_path.join(' › ')}\n${h.text}` : h.text)));
    } catch (err) {
      deps.onRerankError?.(err as Error);
      return hits.slice(0, topK);
    }
    hits.forEach((h, i) => {
      h.rerank_score = Number((scores[i] as number).toFixed(5));
    });
    // Stable: equal scores keep the fused order.
    return hits.sort((a, b) => (b.rerank_score as number) - (a.rerank_score as number)).slice(0, topK);
  }

  return {
    /** The best `topK` chunks for `query` across `collectionIds` (already checked against the caller's access). */
    async search(tenantId: string, collectionIds: readonly string[], query: string, opts: SearchOptions): Promise<ChunkHit[]> {
      if (collectionIds.length === 0) return [];
      const ids = [...collectionIds];
      const mode = opts.mode ?? 'hybrid';
      const tsquery = `(SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery FROM unnest(to_tsvector('english', $3)))`;
      const none = Promise.resolve({ rows: [] as Scored[] });
      const candidates = candidatesFor(opts.topK);

      const [lexical, semantic] = await Promise.all([
        mode === 'vector' ? none : bm25(tenantId, ids, query, opts.filter, candidates),
        mode === 'lexical'
          ? []
          : (opts.vector ?? embedder.embed([query], { kind: 'query' }).then(([v]) => v as Float32Array)).then((vector) => nearestChunks(tenantId, ids, vector, opts.filter, candidates)),
      ]);
      // Relative score fusion: each list's scores scaled to 0–1 (min–max), then weighted. Unlike
      // reciprocal rank fusion it keeps how far apart two hits are, so a weak list cannot push a
      // clearly better hit of the other down (measured in BENCHMARKS.md: 0.666 → 0.830 at 400-token chunks).
      const fused = new Map<string, { score: number; lexical: boolean; vector: boolean }>();
      const add = (hits: readonly Scored[], weight: number, kind: 'lexical' | 'vector') => {
        if (hits.length === 0) return;
        let hi = Number.NEGATIVE_INFINITY;
        let lo = Number.POSITIVE_INFINITY;
        for (const h of hits) {
          hi = Math.max(hi, Number(h.score));
          lo = Math.min(lo, Number(h.score));
        }
        for (const h of hits) {
          const f = fused.get(h.id) ?? { score: 0, lexical: false, vector: false };
          f.score += weight * (hi === lo ? 1 : (Number(h.score) - lo) / (hi - lo));
          f[kind] = true;
          fused.set(h.id, f);
        }
      };
      const lexicalWeight = mode === 'hybrid' ? deps.lexicalWeight : 1;
      add(lexical.rows, lexicalWeight, 'lexical');
      add(semantic, mode === 'hybrid' ? 1 - lexicalWeight : 1, 'vector');
      const best = [...fused.entries()].sort((a, b) => b[1].score - a[1].score);
      if (best.length === 0) return [];
      const reranker = opts.rerank === false ? undefined : deps.reranker;
      // With a reranker, the best `limit` fused chunks are fetched and scored again, and the top_k of them returned.
      const limit = reranker ? Math.max(opts.topK, deps.rerankCandidates ?? 20) : opts.topK;
      // Candidates beyond the limit are fetched only as far as a filter or a replaced document may need.
      const wanted = best.slice(0, opts.filter ? best.length : Math.max(limit * 2, limit + 10)).map(([id]) => id);
      const fetchMeta = metadataCondition(opts.filter, 6);
      // Highlights are made for the rows returned only: the first top_k that still exist, in fused order.
      const headline = opts.highlights
        ? `, CASE WHEN x.rank <= $5::int THEN ts_headline('english', x.text, ${tsquery}, 'StartSel=**, StopSel=**, MaxFragments=3, MaxWords=24, MinWords=8, FragmentDelimiter=${FRAGMENT_DELIMITER}') END AS headline`
        : '';
      const { rows } = await sql.query<ChunkRow>(
        `SELECT x.id, x.collection_id, x.document_id, x.title, x.seq, x.heading_path, x.page, x.page_end, x.char_start, x.char_end, x.text, x.token_count${headline}
         FROM (SELECT c.id::text AS id, c.collection_id, c.document_id, d.title, c.seq, c.heading_path, c.page, c.page_end, c.char_start, c.char_end, c.text, c.token_count,
                      row_number() OVER (ORDER BY w.ord) AS rank
               FROM unnest($4::bigint[]) WITH ORDINALITY AS w(id, ord)
               JOIN chunks c ON c.id = w.id
               JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id AND d.status = 'ready'
               WHERE c.tenant_id = $1 AND c.collection_id = ANY($2::text[])${fetchMeta.sql}) x
         WHERE $3::text IS NOT NULL
         ORDER BY x.rank LIMIT $5`,
        [tenantId, ids, query, wanted, limit, ...fetchMeta.params],
        // Without a filter the text is one of two: planned once per connection (~0.3 ms a search).
        opts.filter ? undefined : { prepare: opts.highlights ? 'chunk_fetch_highlights' : 'chunk_fetch' },
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const hits: ChunkHit[] = [];
      for (const [id, f] of best) {
        const r = byId.get(id);
        if (!r) continue;
        const { id: _id, token_count, headline: h, ...chunk } = r;
        const hit: ChunkHit = { chunk_id: id, ...chunk, tokens: token_count, score: Number(f.score.toFixed(5)), via: f.lexical && f.vector ? 'both' : f.lexical ? 'lexical' : 'vector' };
        if (opts.highlights) hit.highlights = h?.includes('**') ? h.split(FRAGMENT_DELIMITER).map((s) => s.trim()) : [];
        hits.push(hit);
        if (hits.length === limit) break;
      }
      return reranker ? rerankHits(reranker, query, hits, opts.topK) : hits;
    },
  };
}

export type ChunkSearch = ReturnType<typeof createChunkSearch>;
