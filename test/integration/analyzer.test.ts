import { describe, expect, it } from 'vitest';
import { createAnalyzer } from '../../src/store/analyze.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';

describe('analyzer (PGlite has no autovacuum)', () => {
  it('vacuums and analyses a table once enough rows were written to it, and not before', async () => {
    const sql = await createPgliteSql({ dataDir: undefined, schema: 'public' });
    try {
      await sql.exec('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 500) i; DELETE FROM t WHERE id <= 100');
      const stats = async () =>
        (
          await sql.query<{ vacuumed: boolean; analysed: boolean; dead: number }>(
            "SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analysed, n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE relname = 't'",
          )
        ).rows[0];
      const analyzer = createAnalyzer(sql, 400);
      analyzer.wrote('t', 399);
      expect(await stats()).toMatchObject({ vacuumed: false, analysed: false });
      analyzer.wrote('t', 1);
      let now = await stats();
      for (let i = 0; i < 50 && !now?.vacuumed; i++) {
        await new Promise((r) => setTimeout(r, 20));
        now = await stats();
      }
      expect(now).toEqual({ vacuumed: true, analysed: true, dead: 0 });
    } finally {
      await sql.close();
    }
  });
});
