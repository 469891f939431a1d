import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import { GatewayError, notFound } from '../../errors.js';
import type { JobQueue } from '../../jobs/port.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { ADMIN_ROLES, type TenancyRepo } from '../../tenancy/repo.js';
import { requireAdmin, ROUTE_AREAS } from '../middleware/auth.js';
import { validate } from '../schemas/validate.js';

/** Rate limits per minute and quotas per UTC day and month; an absent field is no limit. */
export const limitsSchema = z.strictObject({
  rpm: z.number().int().min(1).optional(),
  tpm: z.number().int().min(1).optional(),
  tokens_per_day: z.number().int().min(1).optional(),
  tokens_per_month: z.number().int().min(1).optional(),
  usd_per_day: z.number().positive().optional(),
  usd_per_month: z.number().positive().optional(),
  alert_at: z.number().gt(0).lt(1).optional(),
});

export const tenantSchema = z.object({
  name: z.string().min(1).max(200),
  limits: limitsSchema.optional(),
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64').optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/**
 * What a key may do: `route:<area>` (chat, context, sessions, memories, documents, prompts, usage,
 * embeddings, models), `model:<alias>`, `collection:<id>`, `memory:user`. A key without `route:`
 * (or `model:`, `collection:`) scopes is not limited in that respect.
 */
const scopeSchema = z.union([
  z.enum(ROUTE_AREAS.map((a) => `route:${a}`) as [string, ...string[]]),
  z.string().regex(/^model:\S{1,200}$/, 'model:<alias>'),
  z.string().regex(/^collection:[A-Za-z0-9_-]{1,100}$/, 'collection:<id>'),
  z.literal('memory:user'),
]);

export const adminKeySchema = z.strictObject({ name: z.string().max(200).optional(), role: z.enum(ADMIN_ROLES) });

export const teamSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64').optional(),
  name: z.string().min(1).max(200),
  limits: limitsSchema.optional(),
});

export const keySchema = z.object({
  tenant_id: z.string().min(1),
  /** The team (or project) of the tenant the key belongs to: its limits and quotas apply too. */
  team_id: z.string().min(1).max(64).optional(),
  name: z.string().max(200).optional(),
  scopes: z.array(scopeSchema).max(100).optional(),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  limits: limitsSchema.optional(),
});

/** GET /admin/v1/jobs: how many of the most recent failures to show. */
export const jobsQuerySchema = z.object({ limit: z.coerce.number().int().min(0).max(1000).default(50) });

/** PATCH /admin/v1/tenants/:id and /admin/v1/keys/:id: the new limits, replacing the old. */
export const limitsPatchSchema = z.strictObject({ limits: limitsSchema });

/** POST /admin/v1/keys/:id/rotate: how long the old secret keeps working. */
export const rotateSchema = z.strictObject({ grace_seconds: z.number().int().min(0).max(30 * 86_400).default(86_400) });

/** /admin/v1 — tenants, API keys and background jobs, behind the bootstrap admin key. */
export function adminRoutes(deps: { auth: Authenticator; repo: TenancyRepo; jobs: JobQueue }) {
  const { repo } = deps;
  const router = ExpressRouter();
  router.use('/admin/v1', requireAdmin(deps.auth));

  // Background jobs: counts per kind and state, and the most recent failures with their errors.
  router.get('/admin/v1/jobs', async (req, res) => {
    const { limit } = validate(jobsQuerySchema, req.query, 'query');
    const [counts, failed] = await Promise.all([deps.jobs.counts(), deps.jobs.failed(limit)]);
    res.json({ object: 'jobs', queue: deps.jobs.kind, counts, failed });
  });

  router.post('/admin/v1/tenants', async (req, res) => {
    const body = validate(tenantSchema, req.body);
    const tenant = await repo.createTenant(body).catch((err: { code?: string }) => {
      if (err.code === '23505') throw new GatewayError(`A tenant with id ${body.id} exists.`, { status: 409, code: 'tenant_exists', category: 'client' });
      throw err;
    });
    res.status(201).json({ object: 'tenant', ...tenant });
  });
  router.get('/admin/v1/tenants', async (_req, res) => {
    res.json({ object: 'list', data: (await repo.listTenants()).map((t) => ({ object: 'tenant', ...t })) });
  });
  router.get('/admin/v1/tenants/:id', async (req, res) => {
    const t = await repo.getTenant(req.params.id as string);
    if (!t) throw notFound(`No tenant with id ${req.params.id}.`, 'tenant_not_found');
    res.json({ object: 'tenant', ...t });
  });
  router.delete('/admin/v1/tenants/:id', async (req, res) => {
    await repo.deleteTenant(req.params.id as string);
    deps.auth.forgetTenant(req.params.id as string);
    res.json({ id: req.params.id, object: 'tenant.deleted', deleted: true });
  });

  router.post('/admin/v1/keys', async (req, res) => {
    const body = validate(keySchema, req.body);
    const key = await repo.createKey({
      tenantId: body.tenant_id,
      name: body.name,
      scopes: body.scopes,
      expiresAt: body.expires_at ? new Date(body.expires_at) : null,
      ...(body.limits ? { limits: body.limits } : {}),
      teamId: body.team_id,
    });
    res.status(201).json({ object: 'api_key', ...key });
  });
  router.get('/admin/v1/keys', async (req, res) => {
    const tenantId = typeof req.query.tenant_id === 'string' ? req.query.tenant_id : undefined;
    res.json({ object: 'list', data: (await repo.listKeys(tenantId)).map((k) => ({ object: 'api_key', ...k })) });
  });
  // Rate limits take effect on this gateway at once, on others within the key cache's TTL.
  router.patch('/admin/v1/tenants/:id', async (req, res) => {
    const { limits } = validate(limitsPatchSchema, req.body);
    const tenant = await repo.setTenantLimits(req.params.id as string, limits);
    deps.auth.forgetTenant(tenant.id);
    res.json({ object: 'tenant', ...tenant });
  });
  router.patch('/admin/v1/keys/:id', async (req, res) => {
    const { limits } = validate(limitsPatchSchema, req.body);
    const { secret_hash, ...key } = await repo.setKeyLimits(req.params.id as string, limits);
    deps.auth.forget(secret_hash);
    res.json({ object: 'api_key', ...key });
  });

  // Teams (or projects) of a tenant: keys belong to one, and its limits and quotas are shared by them.
  router.post('/admin/v1/tenants/:id/teams', async (req, res) => {
    const body = validate(teamSchema, req.body);
    const team = await repo.createTeam(req.params.id as string, body).catch((err: { code?: string }) => {
      if (err.code === '23505') throw new GatewayError(`Tenant ${req.params.id} already has a team ${body.id}.`, { status: 409, code: 'team_exists', category: 'client' });
      throw err;
    });
    res.status(201).json({ object: 'team', ...team });
  });
  router.get('/admin/v1/tenants/:id/teams', async (req, res) => {
    res.json({ object: 'list', data: (await repo.listTeams(req.params.id as string)).map((t) => ({ object: 'team', ...t })) });
  });
  router.patch('/admin/v1/tenants/:id/teams/:team', async (req, res) => {
    const { limits } = validate(limitsPatchSchema, req.body);
    const team = await repo.setTeamLimits(req.params.id as string, req.params.team as string, limits);
    // Keys carry their team's limits in the key cache.
    deps.auth.forgetTenant(team.tenant_id);
    res.json({ object: 'team', ...team });
  });
  router.delete('/admin/v1/tenants/:id/teams/:team', async (req, res) => {
    await repo.deleteTeam(req.params.id as string, req.params.team as string);
    deps.auth.forgetTenant(req.params.id as string);
    res.json({ id: req.params.team, object: 'team.deleted', deleted: true });
  });

  // Admin API keys with a role (owner only): the bootstrap key makes the first ones.
  router.post('/admin/v1/admin-keys', async (req, res) => {
    const body = validate(adminKeySchema, req.body);
    res.status(201).json({ object: 'admin_key', ...(await repo.createAdminKey(body)) });
  });
  router.get('/admin/v1/admin-keys', async (_req, res) => {
    res.json({ object: 'list', data: (await repo.listAdminKeys()).map((k) => ({ object: 'admin_key', ...k })) });
  });
  router.delete('/admin/v1/admin-keys/:id', async (req, res) => {
    const { secret_hash, ...key } = await repo.revokeAdminKey(req.params.id as string);
    deps.auth.forget(secret_hash);
    res.json({ object: 'admin_key', ...key, revoked: true });
  });

  // Rotation: a new secret now, the old one still valid for the grace period (default a day).
  router.post('/admin/v1/keys/:id/rotate', async (req, res) => {
    const { grace_seconds } = validate(rotateSchema, req.body ?? {});
    const { key, old } = await repo.rotateKey(req.params.id as string, grace_seconds);
    // Cached copies of the old key are dropped, so they learn its new expiry.
    deps.auth.forget(old.secret_hash);
    res.status(201).json({ object: 'api_key', ...key, rotated_from: { id: old.id, expires_at: old.expires_at } });
  });

  router.delete('/admin/v1/keys/:id', async (req, res) => {
    const { secret_hash, ...key } = await repo.revokeKey(req.params.id as string);
    deps.auth.forget(secret_hash);
    res.json({ object: 'api_key', ...key, revoked: true });
  });
  return router;
}
