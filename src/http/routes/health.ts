import { Router as ExpressRouter } from 'express';
import type { ShortTermStore } from '../../memory/short-term/port.js';
import type { Sql } from '../../store/sql.js';

// A dependency that does not answer a ping within this time counts as down for readiness.
const CHECK_TIMEOUT_MS = 1000;

function check(p: Promise<void>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => resolve('down'), CHECK_TIMEOUT_MS);
  });
  return Promise.race([p.then(() => 'ok' as const, () => 'down' as const), timeout]).finally(() => clearTimeout(timer));
}

/**
 * /healthz: the process is up. /readyz: it can serve — SQL must answer; Redis down only degrades
 * (the SQL path serves sessions), so it is reported but does not fail readiness.
 */
export function healthRoutes(deps: { sql: Sql; hot: ShortTermStore }) {
  const router = ExpressRouter();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [sql, redis] = await Promise.all([check(deps.sql.ping()), deps.hot.kind === 'none' ? Promise.resolve('disabled' as const) : check(deps.hot.ping())]);
    const status = sql !== 'ok' ? 'unavailable' : redis === 'down' ? 'degraded' : 'ready';
    res.status(sql === 'ok' ? 200 : 503).json({ status, checks: { sql: `${sql} (${deps.sql.kind})`, redis } });
  });
  return router;
}
