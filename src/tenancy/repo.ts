import { notFound } from '../errors.js';
import type { Sql } from '../store/sql.js';
import { hashSecret, newId, newSecret } from './ids.js';

/**
 * Limits of a key or a tenant; an absent field is no limit. Per minute: requests and tokens. Per UTC
 * day and month: tokens and USD (`alert_at`: the share of a quota at which an alert fires, 0.8).
 */
export interface RateLimits {
  rpm?: number;
  tpm?: number;
  tokens_per_day?: number;
  tokens_per_month?: number;
  usd_per_day?: number;
  usd_per_month?: number;
  alert_at?: number;
}

export interface Tenant {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  limits: RateLimits;
  created_at: string;
}

export interface Team {
  tenant_id: string;
  id: string;
  name: string;
  limits: RateLimits;
  created_at: string;
}

export interface ApiKeyRecord {
  id: string;
  tenant_id: string;
  /** The team (or project) the key belongs to, if any. */
  team_id: string | null;
  name: string;
  prefix: string;
  scopes: string[];
  limits: RateLimits;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** The roles of admin API keys, strongest first. */
export const ADMIN_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export interface AdminKeyRecord {
  id: string;
  name: string;
  role: AdminRole;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

const ADMIN_KEY_COLUMNS = 'id, name, role, prefix, created_at, revoked_at';

const KEY_COLUMNS = 'id, tenant_id, team_id, name, prefix, scopes, limits, created_at, expires_at, revoked_at';
const TEAM_COLUMNS = 'tenant_id, id, name, limits, created_at';
const TENANT_COLUMNS = 'id, name, metadata, limits, created_at';

/** Tenants and API keys in SQL. Secrets never leave `createKey`'s return value. */
export function createTenancyRepo(sql: Sql) {
  return {
    async createTenant(input: { name: string; metadata?: Record<string, unknown>; id?: string; limits?: RateLimits }): Promise<Tenant> {
      const { rows } = await sql.query<Tenant>(
        `INSERT INTO tenants (id, name, metadata, limits) VALUES ($1, $2, $3, $4) RETURNING ${TENANT_COLUMNS}`,
        [input.id ?? newId('ten'), input.name, input.metadata ?? {}, JSON.stringify(input.limits ?? {})],
      );
      return rows[0] as Tenant;
    },

    /** Replaces a tenant's rate limits. */
    async setTenantLimits(id: string, limits: RateLimits): Promise<Tenant> {
      const { rows } = await sql.query<Tenant>(`UPDATE tenants SET limits = $2 WHERE id = $1 RETURNING ${TENANT_COLUMNS}`, [id, JSON.stringify(limits)]);
      const row = rows[0];
      if (!row) throw notFound(`No tenant with id ${id}.`, 'tenant_not_found');
      return row;
    },

    /** Replaces a key's rate limits; returns it with its secret's hash (to drop it from auth caches). */
    async setKeyLimits(id: string, limits: RateLimits): Promise<ApiKeyRecord & { secret_hash: string }> {
      const { rows } = await sql.query<ApiKeyRecord & { secret_hash: string }>(`UPDATE api_keys SET limits = $2 WHERE id = $1 RETURNING ${KEY_COLUMNS}, secret_hash`, [
        id,
        JSON.stringify(limits),
      ]);
      const row = rows[0];
      if (!row) throw notFound(`No API key with id ${id}.`, 'key_not_found');
      return row;
    },

    async listTenants(): Promise<Tenant[]> {
      const { rows } = await sql.query<Tenant>(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY created_at, id`);
      return rows;
    },

    async getTenant(id: string): Promise<Tenant | undefined> {
      const { rows } = await sql.query<Tenant>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1`, [id]);
      return rows[0];
    },

    /** Deletes a tenant and, by cascade, its keys, sessions and transcript. */
    async deleteTenant(id: string): Promise<void> {
      const { rowCount } = await sql.query('DELETE FROM tenants WHERE id = $1', [id]);
      if (rowCount === 0) throw notFound(`No tenant with id ${id}.`, 'tenant_not_found');
    },

    async createKey(input: {
      tenantId: string;
      name?: string;
      scopes?: string[];
      expiresAt?: Date | null;
      limits?: RateLimits;
      teamId?: string | undefined;
    }): Promise<ApiKeyRecord & { key: string }> {
      if (!(await this.getTenant(input.tenantId))) throw notFound(`No tenant with id ${input.tenantId}.`, 'tenant_not_found');
      if (input.teamId !== undefined && !(await this.getTeam(input.tenantId, input.teamId))) {
        throw notFound(`No team ${input.teamId} in tenant ${input.tenantId}.`, 'team_not_found');
      }
      const secret = newSecret();
      const { rows } = await sql.query<ApiKeyRecord>(
        `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, expires_at, limits, team_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${KEY_COLUMNS}`,
        [
          newId('key'),
          input.tenantId,
          input.name ?? '',
          secret.slice(0, 12),
          hashSecret(secret),
          JSON.stringify(input.scopes ?? []),
          input.expiresAt ?? null,
          JSON.stringify(input.limits ?? {}),
          input.teamId ?? null,
        ],
      );
      return { ...(rows[0] as ApiKeyRecord), key: secret };
    },

    async listKeys(tenantId?: string): Promise<ApiKeyRecord[]> {
      const { rows } = tenantId
        ? await sql.query<ApiKeyRecord>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])
        : await sql.query<ApiKeyRecord>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
      return rows;
    },

    /**
     * Rotates a live key: a new key with the same tenant, name, scopes, limits and expiry, while the old
     * one stays valid for `graceSeconds` more (or until its own expiry, if sooner). Returns both.
     */
    async rotateKey(id: string, graceSeconds: number): Promise<{ key: ApiKeyRecord & { key: string }; old: ApiKeyRecord & { secret_hash: string } }> {
      const secret = newSecret();
      return sql.transaction(async (tx) => {
        const { rows: live } = await tx.query<ApiKeyRecord>(
          `SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) FOR UPDATE`,
          [id],
        );
        const current = live[0];
        if (!current) throw notFound(`No live API key with id ${id}.`, 'key_not_found');
        const { rows: created } = await tx.query<ApiKeyRecord>(
          `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, expires_at, limits, team_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${KEY_COLUMNS}`,
          [newId('key'), current.tenant_id, current.name, secret.slice(0, 12), hashSecret(secret), JSON.stringify(current.scopes), current.expires_at, JSON.stringify(current.limits), current.team_id],
        );
        const { rows: old } = await tx.query<ApiKeyRecord & { secret_hash: string }>(
          `UPDATE api_keys SET expires_at = LEAST(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2)) WHERE id = $1 RETURNING ${KEY_COLUMNS}, secret_hash`,
          [id, graceSeconds],
        );
        return { key: { ...(created[0] as ApiKeyRecord), key: secret }, old: old[0] as ApiKeyRecord & { secret_hash: string } };
      });
    },

    /** Revokes (never deletes) a key, so its usage history keeps a name to point at. */
    async revokeKey(id: string): Promise<ApiKeyRecord & { secret_hash: string }> {
      const { rows } = await sql.query<ApiKeyRecord & { secret_hash: string }>(
        `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${KEY_COLUMNS}, secret_hash`,
        [id],
      );
      const row = rows[0];
      if (!row) throw notFound(`No API key with id ${id}.`, 'key_not_found');
      return row;
    },

    async createTeam(tenantId: string, input: { id?: string | undefined; name: string; limits?: RateLimits | undefined }): Promise<Team> {
      if (!(await this.getTenant(tenantId))) throw notFound(`No tenant with id ${tenantId}.`, 'tenant_not_found');
      const { rows } = await sql.query<Team>(`INSERT INTO teams (tenant_id, id, name, limits) VALUES ($1, $2, $3, $4) RETURNING ${TEAM_COLUMNS}`, [
        tenantId,
        input.id ?? newId('team'),
        input.name,
        JSON.stringify(input.limits ?? {}),
      ]);
      return rows[0] as Team;
    },

    async getTeam(tenantId: string, id: string): Promise<Team | undefined> {
      return (await sql.query<Team>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE tenant_id = $1 AND id = $2`, [tenantId, id])).rows[0];
    },

    async listTeams(tenantId: string): Promise<Team[]> {
      return (await sql.query<Team>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])).rows;
    },

    async setTeamLimits(tenantId: string, id: string, limits: RateLimits): Promise<Team> {
      const { rows } = await sql.query<Team>(`UPDATE teams SET limits = $3 WHERE tenant_id = $1 AND id = $2 RETURNING ${TEAM_COLUMNS}`, [tenantId, id, JSON.stringify(limits)]);
      const row = rows[0];
      if (!row) throw notFound(`No team ${id} in tenant ${tenantId}.`, 'team_not_found');
      return row;
    },

    /** Deletes a team; its keys stay, without a team. */
    async deleteTeam(tenantId: string, id: string): Promise<void> {
      await sql.transaction(async (tx) => {
        const { rowCount } = await tx.query('DELETE FROM teams WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
        if (rowCount === 0) throw notFound(`No team ${id} in tenant ${tenantId}.`, 'team_not_found');
        await tx.query('UPDATE api_keys SET team_id = NULL WHERE tenant_id = $1 AND team_id = $2', [tenantId, id]);
      });
    },

    async createAdminKey(input: { name?: string; role: AdminRole }): Promise<AdminKeyRecord & { key: string }> {
      const secret = newSecret();
      const { rows } = await sql.query<AdminKeyRecord>(
        `INSERT INTO admin_keys (id, name, role, prefix, secret_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${ADMIN_KEY_COLUMNS}`,
        [newId('adm'), input.name ?? '', input.role, secret.slice(0, 12), hashSecret(secret)],
      );
      return { ...(rows[0] as AdminKeyRecord), key: secret };
    },

    async listAdminKeys(): Promise<AdminKeyRecord[]> {
      return (await sql.query<AdminKeyRecord>(`SELECT ${ADMIN_KEY_COLUMNS} FROM admin_keys ORDER BY created_at, id`)).rows;
    },

    async revokeAdminKey(id: string): Promise<AdminKeyRecord & { secret_hash: string }> {
      const { rows } = await sql.query<AdminKeyRecord & { secret_hash: string }>(
        `UPDATE admin_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${ADMIN_KEY_COLUMNS}, secret_hash`,
        [id],
      );
      const row = rows[0];
      if (!row) throw notFound(`No admin key with id ${id}.`, 'admin_key_not_found');
      return row;
    },

    /** The role of the live admin key whose secret hashes to `hash`. */
    async findLiveAdminKey(hash: string): Promise<{ id: string; role: AdminRole } | undefined> {
      const { rows } = await sql.query<{ id: string; role: AdminRole }>('SELECT id, role FROM admin_keys WHERE secret_hash = $1 AND revoked_at IS NULL', [hash]);
      return rows[0];
    },

    /** The key whose secret hashes to `hash`, if it is live (not revoked, not expired). */
    async findLiveKey(hash: string): Promise<(ApiKeyRecord & { tenant_limits: RateLimits; team_limits: RateLimits | null }) | undefined> {
      const { rows } = await sql.query<ApiKeyRecord & { tenant_limits: RateLimits; team_limits: RateLimits | null }>(
        `SELECT ${KEY_COLUMNS.split(', ')
          .map((c) => `k.${c}`)
          .join(', ')}, t.limits AS tenant_limits, tm.limits AS team_limits
           FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
           LEFT JOIN teams tm ON tm.tenant_id = k.tenant_id AND tm.id = k.team_id
          WHERE k.secret_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
        [hash],
      );
      return rows[0];
    },
  };
}

export type TenancyRepo = ReturnType<typeof createTenancyRepo>;
