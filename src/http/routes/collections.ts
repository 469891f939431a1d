import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import type { Embedder } from '../../embeddings/port.js';
import { badRequest, forbidden } from '../../errors.js';
import { collectionAccess, type Collection, type Collections } from '../../knowledge/collections.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { validate } from '../schemas/validate.js';

const DEFAULT_CHUNKING = { target_tokens: 400, overlap_tokens: 60 };

const createSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  description: z.string().max(2000).default(''),
  /** The deployment's embedder id, or "default" for it. */
  embedding_model: z.string().min(1).default('default'),
  chunking: z
    .strictObject({
      target_tokens: z.number().int().min(64).max(4096).default(DEFAULT_CHUNKING.target_tokens),
      overlap_tokens: z.number().int().min(0).max(2048).default(DEFAULT_CHUNKING.overlap_tokens),
    })
    .refine((c) => c.overlap_tokens <= c.target_tokens / 2, { message: 'overlap_tokens must be at most half of target_tokens', path: ['overlap_tokens'] })
    .prefault({}),
  metadata: z.record(z.string(), z.unknown()).default({}),
});

const present = (c: Collection) => ({ object: 'collection', ...c });

/**
 * /v1/collections — the knowledge collections of the key's tenant. A key whose scopes name
 * collections (`collection:<id>`) sees only those; any other id answers 404, as for another tenant's.
 */
export function collectionRoutes(deps: { auth: Authenticator; collections: Collections; embedder: Embedder }) {
  const { collections } = deps;
  const router = ExpressRouter();
  const auth = requireKey(deps.auth);

  router.post('/v1/collections', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    if (!collectionAccess(principal.scopes).all) {
      throw forbidden('This key is limited to named collections and cannot create new ones.', 'scope_not_allowed');
    }
    const body = validate(createSchema, req.body);
    const model = body.embedding_model === 'default' ? deps.embedder.model : body.embedding_model;
    if (model !== deps.embedder.model) {
      throw badRequest(`embedding_model "${body.embedding_model}" is not served here; this gateway embeds with "${deps.embedder.model}" (or say "default").`, 'embedding_model');
    }
    const created = await collections.create(principal.tenantId, { ...body, embedding_model: model });
    res.status(201).json(present(created));
  });

  router.get('/v1/collections', auth, async (_req, res) => {
    const principal = keyPrincipal(res);
    const list = await collections.list(principal.tenantId, collectionAccess(principal.scopes));
    res.json({ object: 'list', data: list.map(present) });
  });

  router.get('/v1/collections/:id', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    res.json(present(await collections.get(principal.tenantId, collectionAccess(principal.scopes), req.params.id as string)));
  });

  router.delete('/v1/collections/:id', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const id = req.params.id as string;
    await collections.delete(principal.tenantId, collectionAccess(principal.scopes), id);
    res.json({ id, object: 'collection.deleted', deleted: true });
  });

  return router;
}
