import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import type { ResponseCache } from '../../cache/cache.js';
import { badRequest, notFound } from '../../errors.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { requireAdmin } from '../middleware/auth.js';
import { validate } from '../schemas/validate.js';

const filterSchema = z.strictObject({
  tenant_id: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(200).optional(),
});

/** GET /admin/v1/cache/entries: the filter and how many entries. */
export const entriesQuerySchema = filterSchema.extend({ limit: z.coerce.number().int().min(1).max(1000).default(50) });

/** DELETE /admin/v1/cache/entries: the filter, or all=true for every entry. */
export const purgeQuerySchema = filterSchema.extend({ all: z.enum(['true']).optional() });

/** DELETE /admin/v1/cache/entries/:id: the entry's tenant. */
export const entryQuerySchema = z.strictObject({ tenant_id: z.string().min(1).max(64) });

/**
 * /admin/v1/cache — the response cache's entries: the most used first (hit counts), and purges by
 * tenant, model alias or entry (SQL rows, Redis copies and vectors together).
 */
export function cacheAdminRoutes(deps: { auth: Authenticator; cache: ResponseCache }) {
  const { cache } = deps;
  const router = ExpressRouter();
  router.use('/admin/v1/cache', requireAdmin(deps.auth));

  router.get('/admin/v1/cache/entries', async (req, res) => {
    const q = validate(entriesQuerySchema, req.query, 'query');
    const data = await cache.top({ tenantId: q.tenant_id, alias: q.model }, q.limit);
    res.json({ object: 'list', data: data.map((e) => ({ object: 'cache.entry', ...e })) });
  });

  // Purge by tenant and/or model; without either, the whole cache only when asked in so many words.
  router.delete('/admin/v1/cache/entries', async (req, res) => {
    const q = validate(purgeQuerySchema, req.query, 'query');
    if (!q.tenant_id && !q.model && q.all !== 'true') throw badRequest('Name a tenant_id or a model to purge, or all=true to purge every entry.', 'tenant_id');
    const deleted = await cache.remove({ tenantId: q.tenant_id, alias: q.model });
    res.json({ object: 'cache.purged', tenant_id: q.tenant_id ?? null, model: q.model ?? null, deleted });
  });

  router.delete('/admin/v1/cache/entries/:id', async (req, res) => {
    const { tenant_id } = validate(entryQuerySchema, req.query, 'query');
    const deleted = await cache.remove({ tenantId: tenant_id, id: String(req.params.id) });
    if (deleted === 0) throw notFound(`No cache entry with id ${req.params.id} in tenant ${tenant_id}.`, 'cache_entry_not_found');
    res.json({ object: 'cache.entry.deleted', id: req.params.id, deleted: true });
  });
  return router;
}
