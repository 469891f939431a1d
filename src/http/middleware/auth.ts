import type { RequestHandler } from 'express';
import { forbidden } from '../../errors.js';
import type { Authenticator, Principal } from '../../tenancy/auth.js';
import { ctx } from '../request-context.js';

export type KeyPrincipal = Extract<Principal, { kind: 'key' }>;

/** Requires a tenant API key; the admin key is not a tenant and cannot call tenant routes. */
export function requireKey(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    auth.authenticate(req.headers.authorization).then((p) => {
      if (p.kind !== 'key') return next(forbidden('The admin key manages tenants; call this route with a tenant API key.', 'admin_key_not_allowed'));
      const c = ctx(res);
      c.principal = p;
      c.logFields.tenant = p.tenantId;
      next();
    }, next);
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
