import { loadConfigOrExit } from '../src/config/load.js';
import { createLogger } from '../src/observability/logger.js';
import { migrate } from '../src/store/migrate.js';
import { openSql } from '../src/store/open.js';

/**
 * The worker process entry point (docker compose's `worker` service, `npm run worker`). It shares
 * config, SQL and migrations with the gateway. Job kinds (summaries, facts, ingestion, sweeps)
 * register here as their issues land; until then it applies migrations, reports that no job kinds
 * are registered, and idles until it is told to stop.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.log.level);
  const sql = await openSql(config.database);
  await migrate(sql);
  log.info({ sql: sql.kind, jobKinds: [] }, 'worker started; no job kinds are registered yet');
  const keepAlive = setInterval(() => {}, 60_000);
  const stop = async (signal: string): Promise<void> => {
    log.info({ signal }, 'worker shutting down');
    clearInterval(keepAlive);
    await sql.close().catch((err: unknown) => log.error({ err }, 'error while closing SQL'));
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
