import { createHash } from 'node:crypto';
import { type Migration, migrations as all } from './migrations/index.js';
import type { Sql } from './sql.js';

export interface MigrateResult {
  applied: number[];
}

/**
 * Applies pending migrations under a database-wide advisory lock, so two gateways starting at once
 * apply each migration exactly once: the second waits for the lock, then finds nothing to do.
 * An applied migration whose text changed stops start-up rather than drifting silently.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[] = all): Promise<MigrateResult> {
  return sql.withLock(`migrations:${sql.schema}`, async (db) => {
    await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await db.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: number[] = [];
    for (const m of migrations) {
      const checksum = createHash('sha256').update(m.up).digest('hex');
      const prior = done.get(m.version);
      if (prior !== undefined) {
        if (prior !== checksum) throw new Error(`migration ${m.version} (${m.name}) was edited after it was applied`);
        continue;
      }
      await sql.transaction(async (tx) => {
        await tx.exec(m.up);
        await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, checksum]);
      });
      applied.push(m.version);
    }
    return { applied };
  });
}
