import { describe, expect, it } from 'vitest';
import { createTranscript } from '../../src/memory/transcript.js';
import { toNewTurn } from '../../src/memory/turns.js';
import { migrate } from '../../src/store/migrate.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';
import { noteCommitModes } from '../helpers/commit-modes.js';
import { sqlAdapters } from '../helpers/sql-adapters.js';

const tokenizer = getTokenizer('o200k_base');
const turn = (content: string, externalId: string | null = null) => ({ ...toNewTurn({ role: 'user', content }, tokenizer), externalId });

const adapters = sqlAdapters(4);

describe.each(adapters)('transcript appends grouped into shared statements (%s)', (_name, open) => {
  it('numbers concurrent appends to many sessions without gaps, and fails only the bad one', async () => {
    const sql = await open();
    try {
      await migrate(sql);
      await sql.query("INSERT INTO tenants (id, name) VALUES ('t1', 't1'), ('t2', 't2')");
      const tails: Array<[string, number]> = [];
      const transcript = createTranscript(sql, { afterAppend: (tenant, session, tail) => tails.push([`${tenant}/${session}`, tail]) });
      await transcript.append('t1', 'dup', null, [turn('first', 'ext-1')]);

      // 8 sessions × 5 appends of two turns, across two tenants, all in flight at once, plus one append
      // whose external id the session already holds (a unique violation inside a batch).
      const calls = [];
      for (let round = 0; round < 5; round++) {
        for (let s = 0; s < 8; s++) {
          calls.push(transcript.append(s % 2 ? 't2' : 't1', `s${s}`, `u${s}`, [turn(`q ${round}`), { ...turn(`a ${round}`), role: 'assistant' as const }]));
        }
      }
      const bad = transcript.append('t1', 'dup', null, [turn('again', 'ext-1')]).then(
        () => 'stored',
        (err: Error & { code?: string }) => err.code ?? err.message,
      );
      const stored = await Promise.all(calls);
      expect(await bad).toMatch(/unique|conflict|23505/i);

      for (const [i, turns] of stored.entries()) expect(turns.map((t) => t.content)).toEqual([`q ${Math.floor(i / 8)}`, `a ${Math.floor(i / 8)}`]);
      for (let s = 0; s < 8; s++) {
        const tenant = s % 2 ? 't2' : 't1';
        const { rows } = await sql.query<{ seq: number; user_id: string }>('SELECT seq, user_id FROM messages WHERE tenant_id = $1 AND session_id = $2 ORDER BY seq', [
          tenant,
          `s${s}`,
        ]);
        expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(new Set(rows.map((r) => r.user_id))).toEqual(new Set([`u${s}`]));
        // What each append returned is what SQL holds.
        const returned = stored.filter((_, i) => i % 8 === s).flatMap((turns) => turns.map((t) => t.seq));
        expect(returned.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(await transcript.lastSeq(tenant, `s${s}`)).toBe(10);
      }
      expect((await transcript.recent('t1', 'dup', 10)).map((t) => t.content)).toEqual(['first']);
      // The hook heard every committed append, with the session's growing tail.
      expect(tails.filter(([k]) => k === 't1/s0').map(([, n]) => n)).toEqual([...tails.filter(([k]) => k === 't1/s0').map(([, n]) => n)].sort((a, b) => a - b));
      expect(tails).toHaveLength(41);
    } finally {
      await sql.close();
    }
  });

  it('reads many sessions\' last_seq at once, 0 for a session that does not exist or is another tenant\'s', async () => {
    const sql = await open();
    try {
      await migrate(sql);
      await sql.query("INSERT INTO tenants (id, name) VALUES ('t1', 't1'), ('t2', 't2')");
      const transcript = createTranscript(sql);
      await transcript.append('t1', 'a', null, [turn('one'), turn('two')]);
      await transcript.append('t2', 'b', null, [turn('one')]);
      const seqs = await Promise.all([
        transcript.lastSeq('t1', 'a'),
        transcript.lastSeq('t2', 'b'),
        transcript.lastSeq('t1', 'b'),
        transcript.lastSeq('t2', 'a'),
        transcript.lastSeq('t1', 'missing'),
        transcript.lastSeq('t1', 'a'),
      ]);
      expect(seqs).toEqual([2, 1, 0, 0, 0, 2]);
    } finally {
      await sql.close();
    }
  });

  it('commits a chat append without waiting for the WAL flush only when asked, and an import never', async () => {
    const sql = await open();
    try {
      await migrate(sql);
      await sql.query("INSERT INTO tenants (id, name) VALUES ('t1', 't1')");
      const commitModes = await noteCommitModes(sql);
      const { rows: before } = await sql.query<{ mode: string }>("SELECT current_setting('synchronous_commit') AS mode");
      const durable = createTranscript(sql);
      const fast = createTranscript(sql, {}, { synchronousCommit: false });
      await durable.append('t1', 'durable', null, [turn('one')]);
      await Promise.all([fast.append('t1', 'fast-a', null, [turn('one')]), fast.append('t1', 'fast-b', null, [turn('one')])]);
      await fast.importTurns('t1', 'imported', null, [turn('one', 'x1')]);
      expect(await commitModes()).toEqual([
        { session_id: 'durable', mode: before[0]?.mode },
        { session_id: 'fast-a', mode: 'off' },
        { session_id: 'fast-b', mode: 'off' },
        { session_id: 'imported', mode: before[0]?.mode },
      ]);
      expect(before[0]?.mode).not.toBe('off');
      // The setting was the append's own: the connection it ran on is back to the server's default.
      const { rows: after } = await sql.query<{ mode: string }>("SELECT current_setting('synchronous_commit') AS mode");
      expect(after[0]?.mode).toBe(before[0]?.mode);
      expect((await fast.recent('t1', 'fast-a', 5)).map((t) => t.content)).toEqual(['one']);
    } finally {
      await sql.close();
    }
  });
});
