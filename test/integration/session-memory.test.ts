import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSessionMemory } from '../../src/memory/session-memory.js';
import { noShortTermStore } from '../../src/memory/short-term/port.js';
import { createTranscript } from '../../src/memory/transcript.js';
import { toNewTurn } from '../../src/memory/turns.js';
import { migrate } from '../../src/store/migrate.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';

// Two gateways on one database, each with its own in-process copies of sessions (no Redis): a copy
// is used only when it matches SQL's last_seq; a copy a few turns behind reads just those turns.

const tokenizer = getTokenizer('o200k_base');
const turns = (...texts: string[]) => texts.map((content, i) => toNewTurn({ role: i % 2 ? 'assistant' : 'user', content }, tokenizer));

describe('session memory: in-process copies across two gateways', () => {
  it('catches a copy up by the turns another writer added, reloads when far behind, and starts over after a reset', async () => {
    const sql = await createPgliteSql({ dataDir: undefined, schema: 'public' });
    try {
      await migrate(sql);
      await sql.query("INSERT INTO tenants (id, name) VALUES ('t', 't')");
      const transcript = createTranscript(sql);
      const log = pino({ level: 'silent' });
      const gateway = () => createSessionMemory({ transcript, hot: noShortTermStore, hotTurns: 200, localSessions: 8, log });
      const a = gateway();
      const b = gateway();
      const seqs = async (m: ReturnType<typeof gateway>) => (await m.recent('t', 's')).map((t) => `${t.seq}:${t.content}`);

      expect(await seqs(a)).toEqual([]);
      await a.append('t', 's', null, turns('q1', 'a1'));
      expect(await seqs(a)).toEqual(['1:q1', '2:a1']);
      await b.append('t', 's', null, turns('q2', 'a2'));
      // a's copy is two turns behind: they are read and added.
      expect(await seqs(a)).toEqual(['1:q1', '2:a1', '3:q2', '4:a2']);
      // a's own append follows the caught-up copy.
      await a.append('t', 's', null, turns('q3', 'a3'));
      expect(await seqs(a)).toEqual(['1:q1', '2:a1', '3:q2', '4:a2', '5:q3', '6:a3']);
      expect(await seqs(b)).toEqual(['1:q1', '2:a1', '3:q2', '4:a2', '5:q3', '6:a3']);

      // Far behind (more than a catch-up reads): reloaded whole.
      for (let i = 0; i < 10; i++) await b.append('t', 's', null, turns(`bq${i}`, `ba${i}`));
      const reloaded = await seqs(a);
      expect(reloaded).toHaveLength(26);
      expect(reloaded.at(-1)).toBe('26:ba9');

      // Deleted and started again elsewhere: the copy is ahead of SQL, so it is dropped.
      await transcript.deleteSession('t', 's');
      await b.append('t', 's', null, turns('new'));
      expect(await seqs(a)).toEqual(['1:new']);
    } finally {
      await sql.close();
    }
  });
});
