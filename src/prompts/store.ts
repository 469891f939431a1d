import { notFound } from '../errors.js';
import type { Sql } from '../store/sql.js';
import type { PromptTemplate, PromptVariable } from './template.js';

/** One immutable version of a prompt. */
export interface PromptVersion {
  name: string;
  version: number;
  description: string;
  template: PromptTemplate;
  variables: PromptVariable[];
  /** The model alias every run of this version uses. */
  model: string;
  /** Chat-completion fields sent with every run. */
  params: Record<string, unknown>;
  created_by: string | null;
  created_at: string;
}

export interface PromptSummary {
  name: string;
  live_version: number;
  latest_version: number;
  created_at: string;
  updated_at: string;
}

export type NewPromptVersion = Omit<PromptVersion, 'version' | 'created_at'>;

interface VersionRow {
  name: string;
  version: number;
  description: string;
  system_template: string | null;
  user_template: string;
  variables: PromptVariable[];
  model: string;
  params: Record<string, unknown>;
  created_by: string | null;
  created_at: Date | string;
}

const VERSION_COLUMNS = 'name, version, description, system_template, user_template, variables, model, params, created_by, created_at';

const iso = (d: Date | string) => new Date(d).toISOString();

function present(r: VersionRow): PromptVersion {
  return {
    name: r.name,
    version: r.version,
    description: r.description,
    template: { system: r.system_template, user: r.user_template },
    variables: r.variables,
    model: r.model,
    params: r.params,
    created_by: r.created_by,
    created_at: iso(r.created_at),
  };
}

const promptNotFound = (name: string) => notFound(`No prompt named "${name}".`, 'prompt_not_found');
const versionNotFound = (name: string, version: number) => notFound(`Prompt "${name}" has no version ${version}.`, 'prompt_version_not_found');

/** Prompts and their versions in SQL, always within a tenant. */
export function createPromptStore(sql: Sql) {
  async function version(tenantId: string, name: string, v: number): Promise<PromptVersion> {
    const { rows } = await sql.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE tenant_id = $1 AND name = $2 AND version = $3`, [tenantId, name, v]);
    const r = rows[0];
    if (r) return present(r);
    throw (await exists(tenantId, name)) ? versionNotFound(name, v) : promptNotFound(name);
  }

  async function exists(tenantId: string, name: string): Promise<boolean> {
    return (await sql.query('SELECT 1 FROM prompts WHERE tenant_id = $1 AND name = $2', [tenantId, name])).rows.length > 0;
  }

  return {
    /**
     * Publishes the next version of `input.name` (version 1 creates the prompt). It becomes the live
     * version when `activate` (the first version always does: a prompt always has one live).
     */
    async publish(tenantId: string, input: NewPromptVersion, activate: boolean): Promise<{ version: PromptVersion; live: boolean }> {
      return sql.transaction(async (tx) => {
        await tx.query('INSERT INTO prompts (tenant_id, name, live_version) VALUES ($1, $2, 0) ON CONFLICT (tenant_id, name) DO NOTHING', [tenantId, input.name]);
        // The row lock orders concurrent publishers of one name: each gets its own version number.
        await tx.query('SELECT 1 FROM prompts WHERE tenant_id = $1 AND name = $2 FOR UPDATE', [tenantId, input.name]);
        const { rows: top } = await tx.query<{ v: number | null }>('SELECT max(version) AS v FROM prompt_versions WHERE tenant_id = $1 AND name = $2', [tenantId, input.name]);
        const next = (top[0]?.v ?? 0) + 1;
        const { rows } = await tx.query<VersionRow>(
          `INSERT INTO prompt_versions (tenant_id, name, version, description, system_template, user_template, variables, model, params, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${VERSION_COLUMNS}`,
          [tenantId, input.name, next, input.description, input.template.system, input.template.user, JSON.stringify(input.variables), input.model, JSON.stringify(input.params), input.created_by],
        );
        const live = activate || next === 1;
        if (live) await tx.query('UPDATE prompts SET live_version = $3, updated_at = now() WHERE tenant_id = $1 AND name = $2', [tenantId, input.name, next]);
        return { version: present(rows[0] as VersionRow), live };
      });
    },

    async list(tenantId: string): Promise<PromptSummary[]> {
      const { rows } = await sql.query<PromptSummary & { created_at: Date | string; updated_at: Date | string }>(
        `SELECT p.name, p.live_version, (SELECT max(v.version) FROM prompt_versions v WHERE v.tenant_id = p.tenant_id AND v.name = p.name) AS latest_version,
                p.created_at, p.updated_at
         FROM prompts p WHERE p.tenant_id = $1 ORDER BY p.name`,
        [tenantId],
      );
      return rows.map((r) => ({ ...r, created_at: iso(r.created_at), updated_at: iso(r.updated_at) }));
    },

    /** The prompt's live version and every version's number, date and author (newest first). */
    async get(tenantId: string, name: string): Promise<{ summary: PromptSummary; live: PromptVersion; versions: Array<Pick<PromptVersion, 'version' | 'description' | 'model' | 'created_by' | 'created_at'>> }> {
      const { rows } = await sql.query<{ live_version: number; created_at: Date | string; updated_at: Date | string }>(
        'SELECT live_version, created_at, updated_at FROM prompts WHERE tenant_id = $1 AND name = $2',
        [tenantId, name],
      );
      const p = rows[0];
      if (!p) throw promptNotFound(name);
      const versions = await sql.query<Pick<VersionRow, 'version' | 'description' | 'model' | 'created_by' | 'created_at'>>(
        'SELECT version, description, model, created_by, created_at FROM prompt_versions WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC',
        [tenantId, name],
      );
      const list = versions.rows.map((v) => ({ ...v, created_at: iso(v.created_at) }));
      return {
        summary: { name, live_version: p.live_version, latest_version: list[0]?.version ?? p.live_version, created_at: iso(p.created_at), updated_at: iso(p.updated_at) },
        live: await version(tenantId, name, p.live_version),
        versions: list,
      };
    },

    /** A pinned version, or the live one when `v` is undefined. */
    async resolve(tenantId: string, name: string, v: number | undefined): Promise<{ version: PromptVersion; live: number }> {
      const { rows } = await sql.query<{ live_version: number }>('SELECT live_version FROM prompts WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
      const live = rows[0]?.live_version;
      if (live === undefined) throw promptNotFound(name);
      return { version: await version(tenantId, name, v ?? live), live };
    },

    version,

    /** Makes `v` the live version: a rollback, or a roll forward. */
    async setLive(tenantId: string, name: string, v: number): Promise<void> {
      const { rowCount } = await sql.query(
        `UPDATE prompts SET live_version = $3, updated_at = now() WHERE tenant_id = $1 AND name = $2
         AND EXISTS (SELECT 1 FROM prompt_versions WHERE tenant_id = $1 AND name = $2 AND version = $3)`,
        [tenantId, name, v],
      );
      if (rowCount === 0) throw (await exists(tenantId, name)) ? versionNotFound(name, v) : promptNotFound(name);
    },

    /** Deletes the prompt and all its versions. */
    async remove(tenantId: string, name: string): Promise<void> {
      const { rowCount } = await sql.query('DELETE FROM prompts WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
      if (rowCount === 0) throw promptNotFound(name);
    },
  };
}

export type PromptStore = ReturnType<typeof createPromptStore>;

