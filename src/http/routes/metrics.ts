import { Router as ExpressRouter } from 'express';
import type { Metrics } from '../../observability/metrics.js';

/** GET /metrics: Prometheus text format (labels carry no tenant or user, so it is served like /healthz). */
export function metricsRoutes(deps: { metrics: Metrics }) {
  const router = ExpressRouter();
  router.get('/metrics', async (_req, res) => {
    const text = await deps.metrics.registry.metrics();
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.send(text);
  });
  return router;
}
