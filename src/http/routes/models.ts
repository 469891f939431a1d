import { Router as ExpressRouter } from 'express';
import { notFound } from '../../errors.js';
import type { Router } from '../../providers/router/router.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { keyPrincipal, modelAllowed, requireKey } from '../middleware/auth.js';

// Aliases are configuration, not upstream models: a fixed `created` keeps the list stable.
const CREATED = 0;

/** GET /v1/models — the configured model aliases, in OpenAI's list shape. */
export function modelRoutes(deps: { auth: Authenticator; router: Router }) {
  const router = ExpressRouter();
  const model = (id: string) => ({ id, object: 'model', created: CREATED, owned_by: 'context-gateway' });

  // A key limited to some models sees only those.
  router.get('/v1/models', requireKey(deps.auth, 'models'), (_req, res) => {
    const key = keyPrincipal(res);
    res.json({ object: 'list', data: deps.router.aliases().filter((a) => modelAllowed(key, a)).map(model) });
  });
  router.get('/v1/models/:id', requireKey(deps.auth, 'models'), (req, res) => {
    const id = req.params.id as string;
    if (!deps.router.aliases().includes(id) || !modelAllowed(keyPrincipal(res), id)) throw notFound(`The model "${id}" does not exist on this gateway.`, 'model_not_found');
    res.json(model(id));
  });
  return router;
}
