import type { Sql } from '../../src/store/sql.js';

/**
 * Notes the `synchronous_commit` each transcript append commits with: its transaction's setting, seen by
 * a statement trigger on `messages` (it fires at the end of the statement, after every part of it ran).
 * Returns a reader of what was noted, per session.
 */
export async function noteCommitModes(sql: Sql): Promise<() => Promise<Array<{ session_id: string; mode: string }>>> {
  await sql.exec(`CREATE TABLE commit_modes (session_id text, mode text);
    CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO commit_modes SELECT DISTINCT session_id, current_setting('synchronous_commit') FROM added;
      RETURN NULL;
    END $$;
    CREATE TRIGGER note_commit_mode AFTER INSERT ON messages REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION note_commit_mode();`);
  return async () => (await sql.query<{ session_id: string; mode: string }>('SELECT session_id, mode FROM commit_modes ORDER BY session_id')).rows;
}
