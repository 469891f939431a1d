import type { Embedder } from '../../embeddings/port.js';
import type { Sql } from '../../store/sql.js';
import type { VectorFilter, VectorStore } from '../../vector/port.js';
import { TURN_COLUMNS, type Turn, type TurnRow, turnFromRow, turnKey } from '../turns.js';
import { EPISODIC_ROLES } from './collection.js';
import { inRanges, parseTimeRanges, type TimeRange } from './time.js';

/** A time range as a predicate on `m.created_at`; the values are numbers this module made. */
function rangeSql(r: TimeRange): string {
  if (r.monthOnly !== undefined) return `extract(month FROM m.created_at AT TIME ZONE 'UTC') = ${r.monthOnly + 1}`;
  return `(m.created_at >= to_timestamp(${r.from / 1000}) AND m.created_at < to_timestamp(${r.to / 1000}))`;
}

/** Whose turns a search may return: one session, or every session of one user in the tenant. */
export type EpisodicScope = { tenantId: string; sessionId: string; userId?: undefined } | { tenantId: string; userId: string; sessionId?: undefined };

export interface EpisodicHit {
  turn: Turn & { sessionId: string };
  /** Fused score (reciprocal rank fusion), higher is better; neighbours get a share of their hit's. */
  score: number;
  /** How the turn was found: lexical, vector, both, or as the neighbour of a hit. */
  via: 'lexical' | 'vector' | 'both' | 'neighbour';
}

export interface EpisodicSearchOptions {
  /** Candidates taken from each retriever before fusion. */
  candidates: number;
  rrfK: number;
  /** Turns on each side scored together with a turn (lexical window) and returned as neighbours. */
  neighbours: number;
  /** Turns to leave out (already in the prompt as recent history): `${sessionId}\u0000${seq}`. */
  exclude?: ReadonlySet<string>;
}

const BM25_K1 = 1.2;
const BM25_B = 0.75;
/** A turn from a time the question names counts this much more. */
const TIME_BOOST = 1;
/** A neighbour ranks just below the hit that brought it. */
const NEIGHBOUR_WEIGHT = 0.5;

interface Posting {
  session_id: string;
  seq: number;
  len: number;
  lexeme: string;
  tf: number;
}

/**
 * Hybrid retrieval over a scope's turns: BM25 computed from Postgres full-text data (the tsvector
 * of every turn; IDF and length normalisation done here, which `ts_rank` lacks) and vector search,
 * fused by reciprocal rank, then the neighbours of each hit. The lexical score of a turn is taken
 * over a window of it and its neighbours — a reply ("Yes, last Tuesday!") is often only findable
 * through the question before it.
 */
export function createEpisodicSearch(deps: { sql: Sql; vectors: VectorStore; embedder: Embedder; collection: string }) {
  const { sql, vectors, collection } = deps;

  /** The scope as a WHERE clause on `messages` (aliased `m`), its parameters numbered from `first`. */
  function scopeSql(scope: EpisodicScope, first: number): { where: string; params: string[] } {
    return scope.sessionId !== undefined
      ? { where: `m.tenant_id = $${first} AND m.session_id = $${first + 1}`, params: [scope.tenantId, scope.sessionId] }
      : { where: `m.tenant_id = $${first} AND m.user_id = $${first + 1}`, params: [scope.tenantId, scope.userId] };
  }

  /** Scores every turn whose window holds a query term; best first. */
  async function lexical(scope: EpisodicScope, query: string, opts: EpisodicSearchOptions, ranges?: readonly TimeRange[]): Promise<Array<{ key: string; sessionId: string; seq: number; score: number }>> {
    const { where, params } = scopeSql(scope, 2);
    const during = ranges ? ` AND (${ranges.map(rangeSql).join(' OR ')})` : '';
    const roles = [...EPISODIC_ROLES];
    const [stats, postings] = await Promise.all([
      sql.query<{ n: number; avgdl: number }>(
        `SELECT count(*)::int AS n, coalesce(avg(length(m.search)), 0)::float8 AS avgdl FROM messages m WHERE ${where} AND m.role = ANY($1::text[])`,
        [roles, ...params],
      ),
      sql.query<Posting>(
        `WITH q AS (SELECT array_agg(lexeme) AS lx, string_agg(quote_literal(lexeme), ' | ')::tsquery AS tq
                    FROM unnest(to_tsvector('english', $4)))
         SELECT m.session_id, m.seq, length(m.search) AS len, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
         FROM q, messages m, unnest(m.search) u
         WHERE ${where}
           AND m.role = ANY($1::text[]) AND q.tq IS NOT NULL AND m.search @@ q.tq AND u.lexeme = ANY(q.lx)${during}`,
        [roles, ...params, query],
      ),
    ]);
    const n = stats.rows[0]?.n ?? 0;
    const avgdl = stats.rows[0]?.avgdl || 1;
    if (n === 0 || postings.rows.length === 0) return [];

    // Per turn: its length and term frequencies; per term: how many turns hold it.
    const docs = new Map<string, { sessionId: string; seq: number; len: number; tf: Map<string, number> }>();
    const df = new Map<string, number>();
    for (const p of postings.rows) {
      const key = turnKey(p.session_id, p.seq);
      let d = docs.get(key);
      if (!d) {
        d = { sessionId: p.session_id, seq: p.seq, len: p.len, tf: new Map() };
        docs.set(key, d);
      }
      d.tf.set(p.lexeme, p.tf);
      df.set(p.lexeme, (df.get(p.lexeme) ?? 0) + 1);
    }
    const idf = new Map<string, number>();
    for (const [term, f] of df) idf.set(term, Math.log(1 + (n - f + 0.5) / (f + 0.5)));

    // Window score: the turn and its neighbours read as one document (unmatched neighbours count as
    // average length).
    const w = opts.neighbours;
    const windows = new Set<string>();
    for (const d of docs.values()) for (let s = d.seq - w; s <= d.seq + w; s++) if (s > 0) windows.add(turnKey(d.sessionId, s));
    const out: Array<{ key: string; sessionId: string; seq: number; score: number }> = [];
    for (const key of windows) {
      const [sessionId, seqText] = key.split('\u0000') as [string, string];
      const seq = Number(seqText);
      const tf = new Map<string, number>();
      let len = 0;
      for (let s = seq - w; s <= seq + w; s++) {
        const d = docs.get(turnKey(sessionId, s));
        if (!d) {
          len += s > 0 ? avgdl : 0;
          continue;
        }
        len += d.len;
        for (const [term, f] of d.tf) tf.set(term, (tf.get(term) ?? 0) + f * (s === seq ? 1 : 0.5));
      }
      const norm = BM25_K1 * (1 - BM25_B + (BM25_B * len) / (avgdl * (2 * w + 1)));
      let score = 0;
      for (const [term, f] of tf) score += ((idf.get(term) ?? 0) * f * (BM25_K1 + 1)) / (f + norm);
      if (!docs.has(key)) score *= 0.5;
      out.push({ key, sessionId, seq, score });
    }
    return out.sort((a, b) => b.score - a.score).slice(0, opts.candidates);
  }

  async function semantic(scope: EpisodicScope, vector: Float32Array, opts: EpisodicSearchOptions) {
    const filter: VectorFilter = scope.sessionId !== undefined ? { session: scope.sessionId } : { user: scope.userId };
    const hits = await vectors.search({ collection, tenantId: scope.tenantId, vector, topK: opts.candidates, filter });
    const list = hits.map((h) => ({ key: turnKey(String(h.payload.session), Number(h.payload.seq)), sessionId: String(h.payload.session), seq: Number(h.payload.seq), score: h.score }));
    if (opts.neighbours === 0 || list.length === 0) return list;
    // Window similarity, as for the lexical score: a turn read with its neighbours (a neighbour not
    // among the hits counts as the weakest hit's similarity).
    const sim = new Map(list.map((h) => [h.key, h.score]));
    const floor = (list[list.length - 1] as { score: number }).score;
    return list
      .map((h) => {
        let score = h.score;
        for (let d = 1; d <= opts.neighbours; d++) {
          score += (0.5 / d) * ((sim.get(turnKey(h.sessionId, h.seq - d)) ?? floor) + (sim.get(turnKey(h.sessionId, h.seq + d)) ?? floor) - 2 * floor);
        }
        return { ...h, score };
      })
      .sort((a, b) => b.score - a.score);
  }

  async function load(tenantId: string, keys: Array<{ sessionId: string; seq: number }>): Promise<Map<string, Turn & { sessionId: string }>> {
    if (keys.length === 0) return new Map();
    const sessionId = keys[0]?.sessionId as string;
    if (keys.every((k) => k.sessionId === sessionId)) {
      // One session (the common case): its primary-key range, no join.
      const { rows } = await sql.query<TurnRow>(`SELECT ${TURN_COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 AND seq = ANY($3::int[])`, [
        tenantId,
        sessionId,
        keys.map((k) => k.seq),
      ]);
      return new Map(rows.map((r) => [turnKey(sessionId, r.seq), { ...turnFromRow(r), sessionId }]));
    }
    const { rows } = await sql.query<TurnRow & { session_id: string }>(
      `SELECT m.session_id, ${TURN_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}
       FROM messages m JOIN unnest($2::text[], $3::int[]) AS k(session_id, seq) ON m.session_id = k.session_id AND m.seq = k.seq
       WHERE m.tenant_id = $1`,
      [tenantId, keys.map((k) => k.sessionId), keys.map((k) => k.seq)],
    );
    return new Map(rows.map((r) => [turnKey(r.session_id, r.seq), { ...turnFromRow(r), sessionId: r.session_id }]));
  }

  return {
    /**
     * The scope's turns most relevant to `query`, best first, with their neighbours. `vector` is the
     * query's embedding (computed once per request), or its promise: the full-text half starts at once.
     */
    async search(scope: EpisodicScope, query: string, vector: Promise<Float32Array> | Float32Array | undefined, opts: EpisodicSearchOptions): Promise<EpisodicHit[]> {
      const ranges = parseTimeRanges(query);
      const [lex, vec, lexDuring] = await Promise.all([
        lexical(scope, query, opts),
        // The full-text search runs while the query is still being embedded (another thread).
        vector ? Promise.resolve(vector).then((v) => semantic(scope, v, opts)) : Promise.resolve([]),
        // A question that names a date also gets the best matches from that time, however they rank overall.
        ranges.length > 0 ? lexical(scope, query, opts, ranges) : Promise.resolve([]),
      ]);
      const fused = new Map<string, { sessionId: string; seq: number; score: number; lexical: boolean; vector: boolean }>();
      const add = (list: Array<{ key: string; sessionId: string; seq: number }>, kind: 'lexical' | 'vector') => {
        list.forEach((h, rank) => {
          const f = fused.get(h.key) ?? { sessionId: h.sessionId, seq: h.seq, score: 0, lexical: false, vector: false };
          f.score += 1 / (opts.rrfK + rank + 1);
          f[kind] = true;
          fused.set(h.key, f);
        });
      };
      add(lex, 'lexical');
      add(vec, 'vector');
      add(lexDuring, 'lexical');

      const ranked = [...fused.entries()].filter(([key]) => !opts.exclude?.has(key)).sort((a, b) => b[1].score - a[1].score);
      const scores = new Map<string, { score: number; via: EpisodicHit['via'] }>();
      for (const [key, f] of ranked) scores.set(key, { score: f.score, via: f.lexical && f.vector ? 'both' : f.lexical ? 'lexical' : 'vector' });
      for (const [, f] of ranked) {
        for (let d = 1; d <= opts.neighbours; d++) {
          for (const seq of [f.seq - d, f.seq + d]) {
            const key = turnKey(f.sessionId, seq);
            if (seq < 1 || scores.has(key) || opts.exclude?.has(key)) continue;
            scores.set(key, { score: (f.score * NEIGHBOUR_WEIGHT) / d, via: 'neighbour' });
          }
        }
      }
      const turns = await load(
        scope.tenantId,
        [...scores.keys()].map((k) => {
          const [sessionId, seq] = k.split('\u0000') as [string, string];
          return { sessionId, seq: Number(seq) };
        }),
      );
      const hits: EpisodicHit[] = [];
      for (const [key, s] of scores) {
        const turn = turns.get(key);
        if (turn && EPISODIC_ROLES.has(turn.role) && turn.content !== '') hits.push({ turn, score: s.score, via: s.via });
      }
      if (ranges.length > 0) for (const h of hits) if (inRanges(ranges, Date.parse(h.turn.createdAt))) h.score *= 1 + TIME_BOOST;
      return hits.sort((a, b) => b.score - a.score);
    },
  };
}

export type EpisodicSearch = ReturnType<typeof createEpisodicSearch>;
