import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrate.js';
import type { Sql } from '../../src/store/sql.js';
import { sqlAdapters } from '../helpers/sql-adapters.js';

// The document frequencies BM25 reads (chunk_lexemes, kept by statement triggers on chunks) must
// equal a recount from the chunks after every kind of write: inserts, a text update, a document
// deleted (cascade), a collection deleted.

const adapters = sqlAdapters(2);

/** Lexemes whose kept df differs from a recount, as "collection/lexeme kept≠counted". */
async function drift(sql: Sql): Promise<string[]> {
  const { rows } = await sql.query<{ k: string }>(
    `WITH counted AS (SELECT c.tenant_id, c.collection_id, u.lexeme, count(*)::int AS df FROM chunks c, unnest(c.search) u GROUP BY 1, 2, 3),
          kept AS (SELECT tenant_id, collection_id, lexeme, df FROM chunk_lexemes WHERE df <> 0)
     SELECT coalesce(k.collection_id, c.collection_id) || '/' || coalesce(k.lexeme, c.lexeme) || ' ' || coalesce(k.df, 0) || '≠' || coalesce(c.df, 0) AS k
     FROM kept k FULL JOIN counted c USING (tenant_id, collection_id, lexeme)
     WHERE k.df IS DISTINCT FROM c.df`,
  );
  return rows.map((r) => r.k);
}

describe.each(adapters)('chunk_lexemes follows the chunks (%s)', (_name, open) => {
  it('after inserts, an update, a deleted document and a deleted collection', async () => {
    const sql = await open();
    try {
      await migrate(sql);
      await sql.exec(`
        INSERT INTO tenants (id, name) VALUES ('t1', 't1');
        INSERT INTO collections (tenant_id, id, name, embedding_model, chunking) VALUES ('t1', 'c1', 'one', 'm', '{}'), ('t1', 'c2', 'two', 'm', '{}');
        INSERT INTO documents (tenant_id, id, collection_id, content_hash, format, status, text, chars)
        VALUES ('t1', 'd1', 'c1', 'h1', 'markdown', 'ready', '', 0), ('t1', 'd2', 'c1', 'h2', 'markdown', 'ready', '', 0),
               ('t1', 'd3', 'c2', 'h3', 'markdown', 'ready', '', 0);`);
      const add = (doc: string, collection: string, texts: string[]) =>
        sql.query(
          `INSERT INTO chunks (tenant_id, collection_id, document_id, seq, text, char_start, char_end, token_count)
           SELECT 't1', $2, $1, s.i, s.t, 0, length(s.t), 1 FROM unnest($3::text[]) WITH ORDINALITY AS s(t, i)`,
          [doc, collection, texts],
        );
      await add('d1', 'c1', ['Caroline painted a sunrise by the lake.', 'Melanie went camping with her kids.']);
      await add('d2', 'c1', ['Caroline joined the support group; the group meets weekly.']);
      await add('d3', 'c2', ['The lake froze early; Caroline skated on the lake.']);
      expect(await drift(sql)).toEqual([]);
      const df = async (collection: string, lexeme: string) =>
        (await sql.query<{ df: number }>("SELECT df FROM chunk_lexemes WHERE tenant_id = 't1' AND collection_id = $1 AND lexeme = $2", [collection, lexeme])).rows[0]?.df ?? 0;
      expect(await df('c1', 'carolin')).toBe(2);
      expect(await df('c1', 'group')).toBe(1);
      expect(await df('c2', 'lake')).toBe(1);

      await sql.query("UPDATE chunks SET text = 'Melanie painted the lake at dawn.' WHERE document_id = 'd2'");
      expect(await drift(sql)).toEqual([]);
      expect(await df('c1', 'group')).toBe(0);
      expect(await df('c1', 'melani')).toBe(2);

      await sql.query("DELETE FROM documents WHERE tenant_id = 't1' AND id = 'd1'");
      expect(await drift(sql)).toEqual([]);
      expect(await df('c1', 'sunris')).toBe(0);

      await sql.query("DELETE FROM collections WHERE tenant_id = 't1' AND id = 'c2'");
      expect(await drift(sql)).toEqual([]);
      expect(await df('c2', 'lake')).toBe(0);

      // The length column BM25 ranks candidates by is the tsvector's own length.
      const { rows } = await sql.query<{ same: boolean }>('SELECT bool_and(lexemes = length(search)) AS same FROM chunks');
      expect(rows[0]?.same).toBe(true);
    } finally {
      await sql.close();
    }
  });
});
