import { timingSafeEqual } from 'node:crypto';
import { unauthorized } from '../errors.js';
import { inSpan, setSpanAttributes } from '../observability/tracing.js';
import { hashSecret } from './ids.js';
import type { AdminRole, RateLimits, TenancyRepo } from './repo.js';

/** Who is calling: the bootstrap admin, or a tenant's API key. */
export type Principal =
  | { kind: 'admin'; role: AdminRole; keyId: string | null }
  | {
      kind: 'key';
      tenantId: string;
      keyId: string;
      /** The key's team, if it has one. */
      teamId: string | null;
      scopes: readonly string[];
      limits: { key: RateLimits; tenant: RateLimits; team: RateLimits };
    };

interface CacheEntry {
  principal: Principal | null;
  expiresAt: number;
}

// Bounded so a flood of random bearer tokens cannot grow memory without limit.
const MAX_CACHED_KEYS = 10_000;

/**
 * Resolves `Authorization: Bearer …` to a Principal. Verified keys are cached in-process for
 * `ttlMs` so the hot path does no SQL; a revocation made through this process takes effect at
 * once (`forget`), one made through another gateway within `ttlMs`.
 */
export function createAuthenticator(opts: {
  repo: TenancyRepo;
  adminApiKey: string | undefined;
  ttlMs: number;
  now?: () => number;
  /** Tells the other gateways what this one forgets (src/tenancy/revocations.ts). */
  broadcast?: ((message: string) => void) | undefined;
}) {
  const { repo, ttlMs } = opts;
  const now = opts.now ?? Date.now;
  const admin = opts.adminApiKey ? Buffer.from(opts.adminApiKey) : undefined;
  const cache = new Map<string, CacheEntry>();

  function isAdmin(token: string): boolean {
    if (!admin) return false;
    const given = Buffer.from(token);
    return given.length === admin.length && timingSafeEqual(given, admin);
  }

  async function lookup(hash: string): Promise<Principal | null> {
    const hit = cache.get(hash);
    const t = now();
    if (hit && hit.expiresAt > t) return hit.principal;
    const key = await repo.findLiveKey(hash);
    const adminKey = key ? undefined : await repo.findLiveAdminKey(hash);
    const principal: Principal | null = key
      ? {
          kind: 'key',
          tenantId: key.tenant_id,
          keyId: key.id,
          teamId: key.team_id,
          scopes: key.scopes,
          limits: { key: key.limits, tenant: key.tenant_limits, team: key.team_limits ?? {} },
        }
      : adminKey
        ? { kind: 'admin', role: adminKey.role, keyId: adminKey.id }
        : null;
    if (ttlMs > 0) {
      if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value as string);
      // A key that expires (a rotated one at the end of its grace period) leaves the cache then.
      const expires = key?.expires_at ? new Date(key.expires_at).getTime() : Number.POSITIVE_INFINITY;
      cache.set(hash, { principal, expiresAt: Math.min(t + ttlMs, expires) });
    }
    return principal;
  }

  function dropTenant(tenantId: string): void {
    for (const [hash, entry] of cache) if (entry.principal?.kind === 'key' && entry.principal.tenantId === tenantId) cache.delete(hash);
  }

  return {
    /** The caller of a request (under an `auth` trace span when the request is traced). */
    authenticate(header: string | undefined): Promise<Principal> {
      return inSpan('auth', undefined, async (span) => {
        if (!header) throw unauthorized('Missing API key: send it as "Authorization: Bearer <key>".', 'missing_api_key');
        const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
        if (!token) throw unauthorized('Malformed Authorization header: expected "Bearer <key>".', 'invalid_api_key');
        if (isAdmin(token)) return { kind: 'admin', role: 'owner', keyId: null };
        const principal = await lookup(hashSecret(token));
        if (!principal) throw unauthorized('Invalid API key: it is unknown, revoked or expired.', 'invalid_api_key');
        setSpanAttributes(span, { 'gateway.tenant_id': principal.kind === 'key' ? principal.tenantId : undefined });
        return principal;
      });
    },
    /** Drops a key from this process's cache, and every other gateway's (after a revocation or a change). */
    forget(secretHash: string): void {
      cache.delete(secretHash);
      opts.broadcast?.(`key:${secretHash}`);
    },
    /** Drops every cached key of a tenant, here and on every other gateway (the tenant was deleted or changed). */
    forgetTenant(tenantId: string): void {
      dropTenant(tenantId);
      opts.broadcast?.(`tenant:${tenantId}`);
    },
    /** Applies another gateway's `forget`/`forgetTenant`. */
    applyRemote(message: string): void {
      if (message.startsWith('key:')) cache.delete(message.slice(4));
      else if (message.startsWith('tenant:')) dropTenant(message.slice(7));
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
