import type { RequestHandler } from 'express';
import { forbidden } from '../../errors.js';
import type { Authenticator, Principal } from '../../tenancy/auth.js';
import { ctx } from '../request-context.js';

export type KeyPrincipal = Extract<Principal, { kind: 'key' }>;

/** A tenant's key, or 403: the admin key is not a tenant and cannot call tenant routes. */
export function tenantKey(p: Principal): KeyPrincipal {
  if (p.kind !== 'key') throw forbidden('The admin key manages tenants; call this route with a tenant API key.', 'admin_key_not_allowed');
  return p;
}

/** Requires a tenant API key (express routes; the chat handler calls `tenantKey` itself). */
export function requireKey(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    auth
      .authenticate(req.headers.authorization)
      .then((p) => {
        const key = tenantKey(p);
        const c = ctx(res);
        c.principal = key;
        c.logFields.tenant = key.tenantId;
      })
      .then(() => next(), next);
  };
}

export function requireAdmin(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    auth.authenticate(req.headers.authorization).then((p) => {
      if (p.kind !== 'admin') return next(forbidden('This route needs the admin API key (ADMIN_API_KEY).', 'admin_required'));
      ctx(res).principal = p;
      next();
    }, next);
  };
}

export function keyPrincipal(res: Parameters<RequestHandler>[1]): KeyPrincipal {
  return ctx(res).principal as KeyPrincipal;
}
