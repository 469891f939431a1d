import type { RequestHandler } from 'express';
import { forbidden } from '../../errors.js';
import type { Authenticator, Principal } from '../../tenancy/auth.js';
import type { AdminRole } from '../../tenancy/repo.js';
import { ctx } from '../request-context.js';

export type KeyPrincipal = Extract<Principal, { kind: 'key' }>;

/** A tenant's key, or 403: the admin key is not a tenant and cannot call tenant routes. */
export function tenantKey(p: Principal): KeyPrincipal {
  if (p.kind !== 'key') throw forbidden('The admin key manages tenants; call this route with a tenant API key.', 'admin_key_not_allowed');
  return p;
}

/**
 * The API areas a key's `route:<area>` scopes allow. A key with no `route:` scope may use them all; one
 * with some may use only those. Likewise `model:<alias>` scopes limit the model aliases it may call.
 */
export const ROUTE_AREAS = ['chat', 'context', 'sessions', 'memories', 'documents', 'prompts', 'usage', 'embeddings', 'models'] as const;
export type RouteArea = (typeof ROUTE_AREAS)[number];

/** 403 `scope_not_allowed` unless the key's scopes allow `area`. */
export function checkRoute(p: KeyPrincipal, area: RouteArea): void {
  const allowed = p.scopes.filter((s) => s.startsWith('route:'));
  if (allowed.length > 0 && !allowed.includes(`route:${area}`)) {
    throw forbidden(`This key may not use the ${area} API (scope "route:${area}"); its scopes allow ${allowed.join(', ')}.`, 'scope_not_allowed');
  }
}

/** Whether the key's scopes allow model alias `alias`. */
export function modelAllowed(p: KeyPrincipal, alias: string): boolean {
  const allowed = p.scopes.filter((s) => s.startsWith('model:'));
  return allowed.length === 0 || allowed.includes(`model:${alias}`);
}

/** 403 `model_not_allowed` unless the key's scopes allow model alias `alias`. */
export function checkModel(p: KeyPrincipal, alias: string): void {
  if (!modelAllowed(p, alias)) throw forbidden(`This key may not use model "${alias}" (scope "model:${alias}").`, 'model_not_allowed');
}

/** Requires a tenant API key whose scopes allow `area` (express routes; the chat handler checks its own). */
export function requireKey(auth: Authenticator, area: RouteArea): RequestHandler {
  return (req, res, next) => {
    auth
      .authenticate(req.headers.authorization)
      .then((p) => {
        const key = tenantKey(p);
        checkRoute(key, area);
        const c = ctx(res);
        c.principal = key;
        c.logFields.tenant = key.tenantId;
      })
      .then(() => next(), next);
  };
}

const RANK: Readonly<Record<AdminRole, number>> = { viewer: 0, member: 1, admin: 2, owner: 3 };

/**
 * The least role an admin API call needs: admin keys themselves, `owner`; reads, `viewer`; changes to
 * tenants' API keys (create, limits, rotate, revoke), `member`; every other change, `admin`.
 */
export function roleNeeded(method: string, path: string): AdminRole {
  if (path.startsWith('/admin/v1/admin-keys')) return 'owner';
  if (method === 'GET' || method === 'HEAD') return 'viewer';
  if (path.startsWith('/admin/v1/keys')) return 'member';
  return 'admin';
}

/** Requires an admin key whose role allows the call (the bootstrap ADMIN_API_KEY is an owner). */
export function requireAdmin(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    auth.authenticate(req.headers.authorization).then((p) => {
      if (p.kind !== 'admin') return next(forbidden('This route needs an admin API key.', 'admin_required'));
      const path = (req.originalUrl.split('?')[0] ?? '').replace(/\/+$/, '');
      const needed = roleNeeded(req.method, path);
      if (RANK[p.role] < RANK[needed]) return next(forbidden(`This admin key's role "${p.role}" may not ${req.method} ${path}; it needs "${needed}".`, 'role_not_allowed'));
      ctx(res).principal = p;
      next();
    }, next);
  };
}

export function keyPrincipal(res: Parameters<RequestHandler>[1]): KeyPrincipal {
  return ctx(res).principal as KeyPrincipal;
}
