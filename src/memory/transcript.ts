import { notFound } from '../errors.js';
import { createGroup } from '../store/group.js';
import type { Sql, SqlExecutor } from '../store/sql.js';
import { type NewTurn, TURN_COLUMNS, type Turn, type TurnRow, turnFromRow } from './turns.js';

export interface SessionInfo {
  id: string;
  user_id: string | null;
  last_seq: number;
  created_at: string;
  updated_at: string;
}

/**
 * The durable transcript in SQL: sessions and their numbered turns, always scoped by tenant.
 * Appends take one statement: the session row is upserted and its `last_seq` advanced under the
 * row lock, so concurrent appends to one session get distinct, gap-free sequence numbers.
 */
export interface TranscriptHooks {
  /**
   * Told after every committed append with the tokens of the session's turns after its newest
   * summary (a listener schedules work derived from state).
   */
  afterAppend?: (tenantId: string, sessionId: string, tailTokens: number) => void;
}

/** One session's append, as a batch carries it. */
interface AppendCall {
  tenantId: string;
  sessionId: string;
  userId: string | null;
  turns: NewTurn[];
}

/** What an append learns: the first seq it was given, and the session's tokens since its newest summary. */
interface Appended {
  first: number;
  tail: number;
}

// Session appends and last_seq reads are grouped (src/store/group.ts): under load one statement serves
// every request that arrived while the previous one was on its way.
const GROUP = { maxBatch: 64, inFlight: 2 } as const;

/** The append statement, and its variant whose commit does not wait for the WAL flush. */
function appendStatement(synchronous: boolean): { text: string; name: string } {
  // set_config(…, true) is SET LOCAL for the statement's own transaction: read at its commit. The
  // batch's rows are read through it, so it is evaluated before anything is written.
  const [setting, through] = synchronous ? ['', ''] : ["c AS (SELECT set_config('synchronous_commit', 'off', true)),\n     ", ', c'];
  return {
    name: synchronous ? 'transcript_append' : 'transcript_append_async',
    text: `WITH ${setting}b AS (SELECT b.* FROM jsonb_to_recordset($1::jsonb) AS b(k int, tenant_id text, id text, user_id text, n int, tokens int)${through}),
     s AS (
       INSERT INTO sessions (tenant_id, id, user_id, last_seq, tail_tokens)
       SELECT tenant_id, id, user_id, n, tokens FROM b ORDER BY tenant_id, id
       ON CONFLICT (tenant_id, id) DO UPDATE
         SET last_seq = sessions.last_seq + EXCLUDED.last_seq, tail_tokens = sessions.tail_tokens + EXCLUDED.tail_tokens, updated_at = now(),
             user_id = COALESCE(sessions.user_id, EXCLUDED.user_id)
       RETURNING tenant_id, id, last_seq, user_id, tail_tokens),
     sb AS (SELECT b.k, b.n, s.tenant_id, s.id, s.last_seq, s.user_id, s.tail_tokens FROM s JOIN b USING (tenant_id, id)),
     ins AS (
       INSERT INTO messages (tenant_id, session_id, user_id, seq, role, content, fields, token_count, token_encoding, external_id, created_at, metadata)
       SELECT sb.tenant_id, sb.id, sb.user_id, sb.last_seq - sb.n + t.i, t.role, t.content, t.fields, t.token_count, t.token_encoding, t.external_id, t.created_at, t.metadata
       FROM sb JOIN jsonb_to_recordset($2::jsonb) AS t(k int, i int, role text, content text, fields jsonb, token_count int,
              token_encoding text, external_id text, created_at timestamptz, metadata jsonb) ON t.k = sb.k)
     SELECT k, last_seq - n + 1 AS first, tail_tokens FROM sb`,
  };
}
const APPEND = { synchronous: appendStatement(true), asynchronous: appendStatement(false) };

/**
 * Appends each call's turns to its session in one statement (one transaction): every session row is
 * upserted and its `last_seq` advanced under the row lock — in key order, so two gateways' batches
 * cannot deadlock — and the messages are numbered from it. A session appears at most once per batch.
 * `synchronous: false` commits without waiting for the WAL to reach disk (see `session.synchronousCommit`).
 */
async function appendMany(db: SqlExecutor, calls: readonly AppendCall[], now: string, synchronous = true): Promise<Appended[]> {
  const sessions = calls.map((c, k) => ({
    k,
    tenant_id: c.tenantId,
    id: c.sessionId,
    user_id: c.userId,
    n: c.turns.length,
    tokens: c.turns.reduce((n, t) => n + t.tokenCount, 0),
  }));
  const turns = calls.flatMap((c, k) =>
    c.turns.map((t, i) => ({
      k,
      i: i + 1,
      role: t.role,
      content: t.content,
      fields: t.fields,
      token_count: t.tokenCount,
      token_encoding: t.tokenEncoding,
      external_id: t.externalId,
      created_at: t.createdAt ?? now,
      metadata: t.metadata ?? {},
    })),
  );
  const statement = synchronous ? APPEND.synchronous : APPEND.asynchronous;
  const { rows } = await db.query<{ k: number; first: number; tail_tokens: string | number }>(statement.text, [JSON.stringify(sessions), JSON.stringify(turns)], {
    prepare: statement.name,
  });
  const out: Appended[] = [];
  for (const r of rows) out[r.k] = { first: r.first, tail: Number(r.tail_tokens) };
  return out;
}

/** The turns as stored: numbered from `first`, stamped with the time the append gave them. */
function storedTurns(turns: readonly NewTurn[], first: number, now: string): Turn[] {
  return turns.map((t, i) => ({
    seq: first + i,
    role: t.role,
    content: t.content,
    fields: t.fields,
    tokenCount: t.tokenCount,
    tokenEncoding: t.tokenEncoding,
    externalId: t.externalId,
    createdAt: new Date(t.createdAt ?? now).toISOString(),
  }));
}

export interface TranscriptOptions {
  /**
   * false: a chat request's append commits without waiting for the WAL flush (Postgres's
   * `synchronous_commit = off`, for that statement only). Imports and every other write stay synchronous.
   */
  synchronousCommit?: boolean;
}

export function createTranscript(sql: Sql, hooks: TranscriptHooks = {}, opts: TranscriptOptions = {}) {
  const synchronous = opts.synchronousCommit !== false;
  // Timestamps are set here, not by now() in SQL, so the stored turns can be returned without
  // reading the rows back. A batch shares one timestamp: its calls commit together.
  const groupedAppend = createGroup<AppendCall, Appended & { now: string }>(
    async (calls) => {
      const now = new Date().toISOString();
      return (await appendMany(sql, calls, now, synchronous)).map((a) => ({ ...a, now }));
    },
    { ...GROUP, key: (c) => `${c.tenantId}\u0000${c.sessionId}` },
  );
  const groupedLastSeq = createGroup<{ tenantId: string; sessionId: string }, number>(
    async (keys) => {
      const { rows } = await sql.query<{ k: number; last_seq: number }>(
        `SELECT k.k::int - 1 AS k, s.last_seq FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(tenant_id, id, k)
         JOIN sessions s ON s.tenant_id = k.tenant_id AND s.id = k.id`,
        [keys.map((k) => k.tenantId), keys.map((k) => k.sessionId)],
        { prepare: 'session_last_seqs' },
      );
      const seqs = keys.map(() => 0);
      for (const r of rows) seqs[r.k] = r.last_seq;
      return seqs;
    },
    GROUP,
  );

  return {
    /** Appends turns to a session, creating it on first use. Returns them with their seq. */
    async append(tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[]): Promise<Turn[]> {
      if (turns.length === 0) return [];
      const { first, tail, now } = await groupedAppend({ tenantId, sessionId, userId, turns });
      hooks.afterAppend?.(tenantId, sessionId, tail);
      return storedTurns(turns, first, now);
    },

    /**
     * Bulk import: appends the turns whose external id the session does not hold yet, so an
     * interrupted import can simply be run again. Returns the imported and the skipped count.
     */
    async importTurns(tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[]): Promise<{ imported: Turn[]; skipped: number }> {
      let tail: number | undefined;
      const result = await sql.transaction(async (tx) => {
        const ids = turns.flatMap((t) => (t.externalId ? [t.externalId] : []));
        const existing = new Set<string>();
        if (ids.length > 0) {
          const { rows } = await tx.query<{ external_id: string }>(
            'SELECT external_id FROM messages WHERE tenant_id = $1 AND session_id = $2 AND external_id = ANY($3::text[])',
            [tenantId, sessionId, ids],
          );
          for (const r of rows) existing.add(r.external_id);
        }
        const fresh = turns.filter((t) => !t.externalId || !existing.has(t.externalId));
        if (fresh.length === 0) return { imported: [], skipped: turns.length };
        const now = new Date().toISOString();
        const [appended] = await appendMany(tx, [{ tenantId, sessionId, userId, turns: fresh }], now);
        tail = appended?.tail;
        return { imported: storedTurns(fresh, appended?.first ?? 0, now), skipped: turns.length - fresh.length };
      });
      // Told after the commit: a job woken earlier could run before the turns are visible.
      if (tail !== undefined) hooks.afterAppend?.(tenantId, sessionId, tail);
      return result;
    },

    /** The session's newest seq; 0 when the session has no turns or does not exist. */
    lastSeq: (tenantId: string, sessionId: string): Promise<number> => groupedLastSeq({ tenantId, sessionId }),

    /** The newest `limit` turns, oldest first. */
    async recent(tenantId: string, sessionId: string, limit: number): Promise<Turn[]> {
      const { rows } = await sql.query<TurnRow>(
        `SELECT ${TURN_COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 ORDER BY seq DESC LIMIT $3`,
        [tenantId, sessionId, limit],
      );
      return rows.map(turnFromRow).reverse();
    },

    /** A page of turns after `afterSeq`, oldest first. */
    async page(tenantId: string, sessionId: string, opts: { afterSeq: number; limit: number }): Promise<Turn[]> {
      const { rows } = await sql.query<TurnRow>(
        `SELECT ${TURN_COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
        [tenantId, sessionId, opts.afterSeq, opts.limit],
      );
      return rows.map(turnFromRow);
    },

    async session(tenantId: string, sessionId: string): Promise<SessionInfo | undefined> {
      const { rows } = await sql.query<SessionInfo & { created_at: Date; updated_at: Date }>(
        'SELECT id, user_id, last_seq, created_at, updated_at FROM sessions WHERE tenant_id = $1 AND id = $2',
        [tenantId, sessionId],
      );
      const r = rows[0];
      return r && { ...r, created_at: new Date(r.created_at).toISOString(), updated_at: new Date(r.updated_at).toISOString() };
    },

    /** Deletes a session and its transcript; 404 when this tenant has no such session. */
    async deleteSession(tenantId: string, sessionId: string): Promise<void> {
      const { rowCount } = await sql.query('DELETE FROM sessions WHERE tenant_id = $1 AND id = $2', [tenantId, sessionId]);
      if (rowCount === 0) throw notFound(`No session with id ${sessionId}.`, 'session_not_found');
    },
  };
}

export type Transcript = ReturnType<typeof createTranscript>;
