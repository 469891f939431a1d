import { Router as ExpressRouter, type Response } from 'express';
import { z } from 'zod';
import { badRequest } from '../../errors.js';
import type { Sql, SqlParam } from '../../store/sql.js';
import type { Authenticator } from '../../tenancy/auth.js';
import type { UsageRecorder } from '../../usage/recorder.js';
import { keyPrincipal, requireAdmin, requireKey } from '../middleware/auth.js';
import { validate } from '../schemas/validate.js';

/** What usage can be grouped by, and the column (or expression) each reads. */
export const GROUPS = {
  day: "to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
  hour: "to_char(date_trunc('hour', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')",
  tenant: 'tenant_id',
  team: 'team_id',
  alias: 'alias',
  model: 'model',
  provider: 'provider',
  key: 'key_id',
  user: 'user_id',
  session: 'session_id',
  route: 'route',
  status: 'status',
  cache: 'cache',
} as const;
type Group = keyof typeof GROUPS;

const DAY_MS = 24 * 60 * 60 * 1000;
const when = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

export const querySchema = z.strictObject({
  from: when.optional(),
  to: when.optional(),
  group_by: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const groups = (v ?? '').split(',').map((g) => g.trim()).filter(Boolean);
      for (const g of groups) {
        if (!(g in GROUPS)) ctx.addIssue({ code: 'custom', message: `"${g}" is not one of ${Object.keys(GROUPS).join(', ')}` });
      }
      return [...new Set(groups)] as Group[];
    }),
  format: z.enum(['json', 'csv']).default('json'),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});

export const METRICS = [
  'requests',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'cost_usd',
  'saved_usd',
  'cache_hits',
  'errors',
  'latency_ms_avg',
  'latency_ms_p95',
] as const;

/**
 * Usage and cost: `GET /v1/usage` for the key's tenant, `GET /admin/v1/usage?tenant_id=` for any (or
 * all). `from`/`to` (ISO date or date-time; default the last 30 days, `to` exclusive), `group_by` (a
 * comma list of day, hour, tenant, team, alias, model, provider, key, user, session, route, status, cache),
 * `format=csv` for a spreadsheet.
 */
export function usageRoutes(deps: { auth: Authenticator; sql: Sql; usage: UsageRecorder }) {
  const router = ExpressRouter();

  async function answer(res: Response, tenantId: string | undefined, raw: unknown): Promise<void> {
    const q = validate(querySchema, raw, 'query');
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * DAY_MS);
    if (!(from < to)) throw badRequest(`from (${from.toISOString()}) must be before to (${to.toISOString()}).`, 'from');
    // Rows of the last second are still in this process's buffer.
    await deps.usage.flush();
    const params: SqlParam[] = [from.toISOString(), to.toISOString()];
    let where = 'created_at >= $1::timestamptz AND created_at < $2::timestamptz';
    if (tenantId !== undefined) {
      params.push(tenantId);
      where += ` AND tenant_id = $${params.length}`;
    }
    const groups = q.group_by;
    const select = groups.map((g) => `${GROUPS[g]} AS ${g}`);
    const { rows } = await deps.sql.query<Record<string, unknown>>(
      `SELECT ${[...select, ...aggregates()].join(', ')} FROM usage_events WHERE ${where}
       ${groups.length > 0 ? `GROUP BY ${groups.map((_, i) => i + 1).join(', ')} ORDER BY ${groups.map((_, i) => i + 1).join(', ')}` : ''}
       LIMIT ${q.limit}`,
      params,
    );
    const data = rows.filter((r) => Number(r.requests) > 0).map((r) => normalise(r, groups));
    if (q.format === 'csv') {
      const header = [...groups, ...METRICS];
      res.setHeader('content-type', 'text/csv; charset=utf-8');
      res.setHeader('content-disposition', 'attachment; filename="usage.csv"');
      res.send(`${[header.join(','), ...data.map((r) => header.map((h) => csvField(r[h])).join(','))].join('\r\n')}\r\n`);
      return;
    }
    res.json({ object: 'usage', from: from.toISOString(), to: to.toISOString(), group_by: groups, data });
  }

  router.get('/v1/usage', requireKey(deps.auth, 'usage'), async (req, res) => {
    await answer(res, keyPrincipal(res).tenantId, req.query);
  });
  router.get('/admin/v1/usage', requireAdmin(deps.auth), async (req, res) => {
    const { tenant_id, ...rest } = req.query as Record<string, unknown>;
    if (tenant_id !== undefined && (typeof tenant_id !== 'string' || tenant_id === '')) throw badRequest('tenant_id must be a tenant id.', 'tenant_id');
    await answer(res, tenant_id as string | undefined, rest);
  });
  return router;
}

function aggregates(): string[] {
  return [
    'count(*)::int AS requests',
    'coalesce(sum(prompt_tokens), 0)::float8 AS prompt_tokens',
    'coalesce(sum(cached_tokens), 0)::float8 AS cached_tokens',
    'coalesce(sum(completion_tokens), 0)::float8 AS completion_tokens',
    'coalesce(sum(cost_usd), 0)::float8 AS cost_usd',
    'coalesce(sum(saved_usd), 0)::float8 AS saved_usd',
    'count(*) FILTER (WHERE cache IS NOT NULL)::int AS cache_hits',
    'count(*) FILTER (WHERE status >= 400)::int AS errors',
    'avg(latency_ms)::float8 AS latency_ms_avg',
    'percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::float8 AS latency_ms_p95',
  ];
}

function normalise(r: Record<string, unknown>, groups: readonly Group[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of groups) out[g] = r[g] ?? null;
  for (const m of METRICS) {
    const v = r[m];
    out[m] = v === null || v === undefined ? null : m.startsWith('latency') || m.endsWith('usd') ? Math.round(Number(v) * 1e6) / 1e6 : Number(v);
  }
  return out;
}

/** A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
