import { createServer, type Server } from 'node:http';
import { loadConfigOrExit } from './config/load.js';
import { createGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';
import { startTracing } from './observability/tracing.js';

// Let in-flight requests (streams included) finish for this long on SIGTERM before exiting.
const SHUTDOWN_GRACE_MS = 10_000;

/** Composition root: config → adapters → app → listen. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.log.level);
  // Off unless the standard OTEL_ variables ask for traces (README: Tracing).
  const stopTracing = await startTracing(process.env, { log });
  const gateway = await createGateway(config, log);
  const server: Server = createServer(gateway.app).listen(config.server.port, config.server.host);
  // Clients keep connections alive; our idle timeout must outlive typical load balancers' (60 s).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const addr = server.address();
  log.info(
    {
      port: typeof addr === 'object' && addr ? addr.port : config.server.port,
      sql: gateway.deps.sql.kind,
      shortTerm: gateway.deps.hot.kind,
      models: gateway.deps.router.aliases(),
      admin: Boolean(config.auth.adminApiKey),
    },
    'context gateway listening',
  );
  if (!config.auth.adminApiKey) log.warn('ADMIN_API_KEY is not set: the admin API (tenants, keys) is closed');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    server.close(() => {
      clearTimeout(force);
      gateway
        .close()
        .catch((err: unknown) => log.error({ err }, 'error while closing'))
        // The last spans (those of the requests that just finished) are flushed before exiting.
        .then(stopTracing)
        .finally(() => {
          log.flush();
          process.exit(0);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`context gateway failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
