import { notFound } from '../errors.js';
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

export function createTranscript(sql: Sql, hooks: TranscriptHooks = {}) {
  /** Appends within `db`; `told` receives the tail for the hook, to be called once the write is committed. */
  async function append(db: SqlExecutor, tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[], told: (tail: number) => void): Promise<Turn[]> {
    if (turns.length === 0) return [];
    // Timestamps are set here, not by now() in SQL, so the stored turns can be returned without
    // reading the rows back: the statement returns only the sequence numbers it assigned.
    const now = new Date().toISOString();
    const input = turns.map((t, i) => ({
      i: i + 1,
      role: t.role,
      content: t.content,
      fields: t.fields,
      token_count: t.tokenCount,
      token_encoding: t.tokenEncoding,
      external_id: t.externalId,
      created_at: t.createdAt ?? now,
      metadata: t.metadata ?? {},
    }));
    const tokens = turns.reduce((n, t) => n + t.tokenCount, 0);
    const { rows } = await db.query<{ first: number; tail_tokens: string | number }>(
      `WITH s AS (
         INSERT INTO sessions (tenant_id, id, user_id, last_seq, tail_tokens) VALUES ($1, $2, $3, $4, $6)
         ON CONFLICT (tenant_id, id) DO UPDATE
           SET last_seq = sessions.last_seq + $4, tail_tokens = sessions.tail_tokens + $6, updated_at = now(),
               user_id = COALESCE(sessions.user_id, EXCLUDED.user_id)
         RETURNING last_seq, user_id, tail_tokens),
       ins AS (
         INSERT INTO messages (tenant_id, session_id, user_id, seq, role, content, fields, token_count, token_encoding, external_id, created_at, metadata)
         SELECT $1, $2, s.user_id, s.last_seq - $4 + t.i, t.role, t.content, t.fields, t.token_count, t.token_encoding, t.external_id, t.created_at, t.metadata
         FROM s, jsonb_to_recordset($5::jsonb) AS t(i int, role text, content text, fields jsonb, token_count int,
                token_encoding text, external_id text, created_at timestamptz, metadata jsonb))
       SELECT last_seq - $4 + 1 AS first, tail_tokens FROM s`,
      [tenantId, sessionId, userId, turns.length, JSON.stringify(input), tokens],
      { prepare: 'transcript_append' },
    );
    told(Number((rows[0] as { tail_tokens: string | number }).tail_tokens));
    const first = (rows[0] as { first: number }).first;
    return turns.map((t, i) => ({
      seq: first + i,
      role: t.role,
      content: t.content,
      fields: t.fields,
      tokenCount: t.tokenCount,
      tokenEncoding: t.tokenEncoding,
      externalId: t.externalId,
      createdAt: new Date(input[i]?.created_at as string).toISOString(),
    }));
  }

  return {
    /** Appends turns to a session, creating it on first use. Returns them with their seq. */
    append: (tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[]) =>
      append(sql, tenantId, sessionId, userId, turns, (tail) => hooks.afterAppend?.(tenantId, sessionId, tail)),

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
        const imported = await append(tx, tenantId, sessionId, userId, fresh, (t) => {
          tail = t;
        });
        return { imported, skipped: turns.length - fresh.length };
      });
      // Told after the commit: a job woken earlier could run before the turns are visible.
      if (tail !== undefined) hooks.afterAppend?.(tenantId, sessionId, tail);
      return result;
    },

    /** The session's newest seq; 0 when the session has no turns or does not exist. */
    async lastSeq(tenantId: string, sessionId: string): Promise<number> {
      const { rows } = await sql.query<{ last_seq: number }>('SELECT last_seq FROM sessions WHERE tenant_id = $1 AND id = $2', [tenantId, sessionId], {
        prepare: 'session_last_seq',
      });
      return rows[0]?.last_seq ?? 0;
    },

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
