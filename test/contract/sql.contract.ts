import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrate.js';
import type { Migration } from '../../src/store/migrations/index.js';
import type { Sql } from '../../src/store/sql.js';

/**
 * The conformance suite every `Sql` adapter passes. `open` returns a fresh, empty database (or
 * schema) for the adapter; `openSecond` a second handle on the same one where the adapter allows
 * it (pg: a second pool, as a second gateway would have).
 */
export function sqlContract(name: string, hooks: { open(): Promise<Sql>; openSecond?: (first: Sql) => Promise<Sql> }) {
  describe(`Sql contract: ${name}`, () => {
    const withSql = async (fn: (sql: Sql) => Promise<void>) => {
      const sql = await hooks.open();
      try {
        await fn(sql);
      } finally {
        await sql.close();
      }
    };

    it('runs parameterised queries and returns plain rows', () =>
      withSql(async (sql) => {
        const { rows } = await sql.query<{ n: number; s: string; j: { a: number }; b: boolean; arr: string[] }>(
          'SELECT $1::int AS n, $2::text AS s, $3::jsonb AS j, $4::boolean AS b, $5::text[] AS arr',
          [42, 'héllo', JSON.stringify({ a: 1 }), true, ['x', 'y']],
        );
        expect(rows).toEqual([{ n: 42, s: 'héllo', j: { a: 1 }, b: true, arr: ['x', 'y'] }]);
        const big = await sql.query<{ c: number }>('SELECT count(*) AS c FROM generate_series(1, 3)');
        expect(big.rows[0]?.c).toBe(3);
      }));

    it('takes a Buffer as a bytea parameter, byte for byte (uploaded text goes to SQL as UTF-8 bytes)', () =>
      withSql(async (sql) => {
        const text = `café 7 € 😀 ${'x'.repeat(100_000)}`;
        const bytes = Buffer.concat([Buffer.from([0, 255, 16]), Buffer.from(text)]);
        const { rows } = await sql.query<{ n: number; head: string; text: string }>(
          "SELECT length($1::bytea) AS n, encode(substring($1::bytea FROM 1 FOR 3), 'hex') AS head, convert_from(substring($1::bytea FROM 4), 'UTF8') AS text",
          [bytes],
        );
        expect(rows).toEqual([{ n: bytes.length, head: '00ff10', text }]);
        // A view into a larger buffer sends only its own bytes.
        const view = bytes.subarray(3, 3 + Buffer.byteLength('café'));
        expect((await sql.query<{ t: string }>("SELECT convert_from($1::bytea, 'UTF8') AS t", [view])).rows).toEqual([{ t: 'café' }]);
      }));

    it("refuses a NUL character in text or JSON as the client's 400, not a 500", () =>
      withSql(async (sql) => {
        for (const [query, value] of [
          ['SELECT $1::text AS v', 'a\u0000b'],
          ['SELECT $1::jsonb AS v', JSON.stringify({ note: 'a\u0000b' })],
        ] as const) {
          const err = await sql.query(query, [value]).catch((e: unknown) => e);
          expect(err).toMatchObject({ status: 400, code: 'invalid_characters' });
        }
      }));

    it('runs a named (prepared) statement repeatedly with new parameters', () =>
      withSql(async (sql) => {
        for (const n of [1, 2, 3]) {
          const { rows } = await sql.query<{ twice: number }>('SELECT $1::int * 2 AS twice', [n], { prepare: 'contract_twice' });
          expect(rows).toEqual([{ twice: n * 2 }]);
        }
      }));

    it('reports affected rows and runs multi-statement scripts', () =>
      withSql(async (sql) => {
        await sql.exec('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, $$a$$), (2, $$b$$);');
        const res = await sql.query('UPDATE t SET v = $1', ['z']);
        expect(res.rowCount).toBe(2);
      }));

    it('commits a transaction and rolls it back when it throws', () =>
      withSql(async (sql) => {
        await sql.exec('CREATE TABLE tx (id int PRIMARY KEY)');
        await sql.transaction(async (tx) => {
          await tx.query('INSERT INTO tx VALUES (1)');
        });
        await expect(
          sql.transaction(async (tx) => {
            await tx.query('INSERT INTO tx VALUES (2)');
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        const { rows } = await sql.query<{ id: number }>('SELECT id FROM tx ORDER BY id');
        expect(rows.map((r) => r.id)).toEqual([1]);
      }));

    it('surfaces constraint violations with the Postgres error code', () =>
      withSql(async (sql) => {
        await sql.exec('CREATE TABLE u (id int PRIMARY KEY)');
        await sql.query('INSERT INTO u VALUES (1)');
        await expect(sql.query('INSERT INTO u VALUES (1)')).rejects.toMatchObject({ code: '23505' });
      }));

    it('has the pgvector extension available', () =>
      withSql(async (sql) => {
        if (sql.kind === 'pg') {
          const { rows } = await sql.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
          // Debian's Postgres here has no pgvector; docker compose's image does. PGlite always has it.
          if (rows.length === 0) return;
        }
        await sql.exec('CREATE EXTENSION IF NOT EXISTS vector');
        const { rows } = await sql.query<{ d: number }>("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector AS d");
        expect(rows[0]?.d).toBeCloseTo(1);
      }));

    it('applies migrations once, in order, and refuses an edited one', () =>
      withSql(async (sql) => {
        const ms: Migration[] = [
          { version: 1, name: 'a', up: 'CREATE TABLE m1 (id int)' },
          { version: 2, name: 'b', up: 'CREATE TABLE m2 (id int); INSERT INTO m2 VALUES (1);' },
        ];
        expect((await migrate(sql, ms)).applied).toEqual([1, 2]);
        expect((await migrate(sql, ms)).applied).toEqual([]);
        await expect(migrate(sql, [{ ...ms[0], up: 'CREATE TABLE m1 (id bigint)' } as Migration])).rejects.toThrow(/edited/);
        // A failing migration leaves nothing half-applied.
        await expect(migrate(sql, [...ms, { version: 3, name: 'bad', up: 'CREATE TABLE m3 (id int); SELECT nope;' }])).rejects.toThrow();
        const { rows } = await sql.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'm3' AND table_schema = $1", [sql.schema]);
        expect(rows).toHaveLength(0);
      }));

    it('applies the real migrations, so the gateway schema exists', () =>
      withSql(async (sql) => {
        await migrate(sql);
        const { rows } = await sql.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [sql.schema]);
        expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['api_keys', 'messages', 'schema_migrations', 'sessions', 'tenants']));
      }));

    if (hooks.openSecond) {
      const openSecond = hooks.openSecond;
      it('two handles migrating at once apply each migration exactly once', () =>
        withSql(async (sql) => {
          const other = await openSecond(sql);
          try {
            // The sleep widens the race window: without the lock both would run migration 1.
            const ms: Migration[] = [{ version: 1, name: 'slow', up: 'SELECT pg_sleep(0.3); CREATE TABLE race (id int);' }];
            const [a, b] = await Promise.all([migrate(sql, ms), migrate(other, ms)]);
            expect([...a.applied, ...b.applied]).toEqual([1]);
          } finally {
            await other.close();
          }
        }));

      it('serialises holders of the same advisory lock', () =>
        withSql(async (sql) => {
          const other = await openSecond(sql);
          try {
            const events: string[] = [];
            const hold = (db: Sql, tag: string) =>
              db.withLock('contract-lock', async () => {
                events.push(`${tag}:in`);
                await new Promise((r) => setTimeout(r, 100));
                events.push(`${tag}:out`);
              });
            await Promise.all([hold(sql, 'a'), hold(other, 'b')]);
            expect([events.slice(0, 2), events.slice(2)].map((p) => p[0]?.split(':')[0] === p[1]?.split(':')[0])).toEqual([true, true]);
          } finally {
            await other.close();
          }
        }));
    }
  });
}
