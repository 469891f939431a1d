import { Router as ExpressRouter } from 'express';
import { openApiDocument } from '../openapi.js';

/** GET /openapi.json — the OpenAPI 3.1 document of the admin and management APIs; public, like /healthz. */
export function openApiRoutes() {
  const router = ExpressRouter();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  return router;
}
