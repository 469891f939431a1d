/**
 * What BM25 needs without reading a chunk's tsvector: its length in lexemes (a plain column, so
 * ranking candidates never detoasts one) and, per collection, how many chunks hold each lexeme
 * (document frequencies, kept by statement triggers on `chunks`, so every writer — the ingestor,
 * a cascade from a deleted document, a bulk load — keeps them right).
 *
 * The triggers add and subtract with one upsert per statement, in key order, so two writers to
 * one collection wait for each other's rows instead of deadlocking. A lexeme no chunk holds any
 * more stays with df 0, which search reads as absent.
 */
export const up = `
ALTER TABLE chunks ADD COLUMN lexemes integer GENERATED ALWAYS AS (length(to_tsvector('english', text))) STORED;

CREATE TABLE chunk_lexemes (
  tenant_id     text NOT NULL,
  collection_id text NOT NULL,
  lexeme        text NOT NULL,
  df            integer NOT NULL,
  PRIMARY KEY (tenant_id, collection_id, lexeme)
);
INSERT INTO chunk_lexemes (tenant_id, collection_id, lexeme, df)
SELECT c.tenant_id, c.collection_id, u.lexeme, count(*) FROM chunks c, unnest(c.search) u GROUP BY 1, 2, 3;

CREATE FUNCTION chunk_lexemes_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_lexemes AS l (tenant_id, collection_id, lexeme, df)
  SELECT c.tenant_id, c.collection_id, u.lexeme, count(*) FROM added c, unnest(c.search) u GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, collection_id, lexeme) DO UPDATE SET df = l.df + EXCLUDED.df;
  RETURN NULL;
END $$;

CREATE FUNCTION chunk_lexemes_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_lexemes AS l (tenant_id, collection_id, lexeme, df)
  SELECT c.tenant_id, c.collection_id, u.lexeme, -count(*) FROM removed c, unnest(c.search) u GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, collection_id, lexeme) DO UPDATE SET df = l.df + EXCLUDED.df;
  RETURN NULL;
END $$;

CREATE FUNCTION chunk_lexemes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_lexemes AS l (tenant_id, collection_id, lexeme, df)
  SELECT tenant_id, collection_id, lexeme, sum(n) FROM (
    SELECT c.tenant_id, c.collection_id, u.lexeme, 1 AS n FROM added c, unnest(c.search) u
    UNION ALL
    SELECT c.tenant_id, c.collection_id, u.lexeme, -1 FROM removed c, unnest(c.search) u) d
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, collection_id, lexeme) DO UPDATE SET df = l.df + EXCLUDED.df;
  RETURN NULL;
END $$;

CREATE TRIGGER chunk_lexemes_added AFTER INSERT ON chunks REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION chunk_lexemes_added();
CREATE TRIGGER chunk_lexemes_removed AFTER DELETE ON chunks REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION chunk_lexemes_removed();
CREATE TRIGGER chunk_lexemes_changed AFTER UPDATE ON chunks REFERENCING OLD TABLE AS removed NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION chunk_lexemes_changed();
`;
