import { createHmac } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { inSpan } from '../observability/tracing.js';
import type { Sql, SqlExecutor } from '../store/sql.js';
import type { UsageEvent } from '../usage/recorder.js';

/**
 * Token and money quotas per API key and per tenant, by UTC day and month. Usage is added to
 * `quota_counters` by the usage recorder in the transaction that writes its rows (`account`); a
 * request is refused with 429 `quota_exceeded` once a counter has reached its quota (`check`, which
 * reads the counters at most once a second per scope). Counters lag usage by the recorder's flush (a
 * second), so a burst can overshoot a quota by about a second of traffic; the request that crosses
 * it completes. Crossing the soft share of a quota (`alert_at`, 0.8 by default) or the quota itself
 * fires one alert per period: a log line and, when configured, a signed webhook with retries.
 */

export const QUOTAS = ['tokens_per_day', 'tokens_per_month', 'usd_per_day', 'usd_per_month'] as const;
export type QuotaName = (typeof QUOTAS)[number];
export type QuotaLimits = Partial<Record<QuotaName, number>> & { alert_at?: number };

/** Whose quotas a request counts against. */
export interface QuotaScope {
  tenantId: string;
  /** `key:<id>`, `team:<tenant>:<id>` or `tenant:<id>`. */
  scope: string;
  limits: QuotaLimits;
  /** "this API key", "this tenant": for messages. */
  whose: string;
}

export interface AlertsConfig {
  webhookUrl?: string | undefined;
  /** HMAC-SHA256 key of the `x-gateway-signature` header. */
  secret?: string | undefined;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export interface QuotaAlert {
  type: 'quota.soft_limit' | 'quota.exceeded';
  tenant_id: string;
  scope: string;
  quota: QuotaName;
  period: string;
  used: number;
  limit: number;
  at: string;
}

const MEMO_MS = 1000;
const MICRO = 1_000_000;

/** The UTC day and month a moment counts in: `d:2026-11-30`, `m:2026-11`. */
export function periodsOf(at: Date): { day: string; month: string } {
  const iso = at.toISOString();
  return { day: `d:${iso.slice(0, 10)}`, month: `m:${iso.slice(0, 7)}` };
}

const hasQuota = (l: QuotaLimits): boolean => QUOTAS.some((q) => l[q] !== undefined);

export function createQuotas(deps: { sql: Sql; log: Logger; alerts: AlertsConfig; fetchImpl?: typeof fetch }) {
  const { sql, log } = deps;
  const send = deps.fetchImpl ?? fetch;
  const memo = new Map<string, { at: number; value: Promise<Map<string, { tokens: number; usd: number }>> }>();
  const deliveries = new Set<Promise<void>>();

  async function counters(scopes: readonly string[], periods: readonly string[]): Promise<Map<string, { tokens: number; usd: number }>> {
    const { rows } = await sql.query<{ scope: string; period: string; tokens: string; micro_usd: string }>(
      'SELECT scope, period, tokens::text, micro_usd::text FROM quota_counters WHERE scope = ANY($1::text[]) AND period = ANY($2::text[])',
      [scopes, periods],
    );
    return new Map(rows.map((r) => [`${r.scope} ${r.period}`, { tokens: Number(r.tokens), usd: Number(r.micro_usd) / MICRO }]));
  }

  function used(found: Map<string, { tokens: number; usd: number }>, scope: string, quota: QuotaName, p: { day: string; month: string }): number {
    const c = found.get(`${scope} ${quota.endsWith('day') ? p.day : p.month}`);
    return quota.startsWith('tokens') ? (c?.tokens ?? 0) : (c?.usd ?? 0);
  }

  async function deliver(alert: QuotaAlert): Promise<void> {
    const { webhookUrl, secret, attempts, backoffMs, timeoutMs } = deps.alerts;
    if (!webhookUrl) return;
    const body = JSON.stringify(alert);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const ts = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-gateway-event': alert.type };
      if (secret) headers['x-gateway-signature'] = `t=${ts},v1=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
      try {
        const res = await send(webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        if (res.ok) {
          await sql.query('UPDATE quota_alerts SET delivered_at = now() WHERE scope = $1 AND period = $2 AND quota = $3 AND level = $4', [
            alert.scope,
            alert.period,
            alert.quota,
            alert.type === 'quota.exceeded' ? 'hard' : 'soft',
          ]);
          return;
        }
        log.warn({ status: res.status, attempt, scope: alert.scope, quota: alert.quota }, 'quota alert webhook refused; retrying');
      } catch (err) {
        log.warn({ err: (err as Error).message, attempt, scope: alert.scope, quota: alert.quota }, 'quota alert webhook failed; retrying');
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
    }
    log.error({ scope: alert.scope, quota: alert.quota, period: alert.period }, 'quota alert webhook not delivered after every attempt');
  }

  return {
    /**
     * Throws 429 `quota_exceeded` when a quota of these scopes is used up; otherwise returns the largest
     * share of a USD quota used so far (0 without one), for cost-aware routing's budget threshold.
     */
    async check(scopes: readonly QuotaScope[]): Promise<number> {
      const limited = scopes.filter((s) => hasQuota(s.limits));
      if (limited.length === 0) return 0;
      // A trace span when the request is traced (only requests with quotas have one).
      return inSpan('quota', { 'gateway.quota.scopes': limited.length }, async () => {
        const p = periodsOf(new Date());
        const key = `${limited.map((s) => s.scope).join(',')} ${p.day}`;
        const now = Date.now();
        let hit = memo.get(key);
        if (!hit || now - hit.at > MEMO_MS) {
          if (memo.size > 10_000) memo.clear();
          hit = { at: now, value: counters(limited.map((s) => s.scope), [p.day, p.month]) };
          hit.value.catch(() => memo.delete(key));
          memo.set(key, hit);
        }
        const found = await hit.value;
        let budgetShare = 0;
        for (const s of limited) {
          for (const q of QUOTAS) {
            const limit = s.limits[q];
            if (limit === undefined) continue;
            const u = used(found, s.scope, q, p);
            if (q.startsWith('usd')) budgetShare = Math.max(budgetShare, u / limit);
            if (u >= limit) {
              const unit = q.startsWith('tokens') ? 'tokens' : 'USD';
              throw new GatewayError(
                `Quota reached: ${q} of ${s.whose} is ${limit} ${unit} and ${Math.round(u * 1e6) / 1e6} are used; it resets at the start of the next UTC ${q.endsWith('day') ? 'day' : 'month'}.`,
                { status: 429, code: 'quota_exceeded', category: 'client', param: q },
              );
            }
          }
        }
        return budgetShare;
      });
    },

    /**
     * Adds written usage rows to the counters of their key and tenant (inside the recorder's
     * transaction) and records the alerts they cross; returns the alerts to send after commit.
     */
    async account(tx: SqlExecutor, rows: readonly UsageEvent[]): Promise<QuotaAlert[]> {
      const inc = new Map<string, { tenantId: string; scope: string; period: string; tokens: number; micro: number }>();
      for (const e of rows) {
        const tokens = e.promptTokens + e.completionTokens;
        const micro = Math.round(e.costUsd * MICRO);
        if (tokens === 0 && micro === 0) continue;
        const p = periodsOf(e.at);
        for (const scope of [`tenant:${e.tenantId}`, ...(e.keyId ? [`key:${e.keyId}`] : []), ...(e.teamId ? [`team:${e.tenantId}:${e.teamId}`] : [])]) {
          for (const period of [p.day, p.month]) {
            const k = `${scope} ${period}`;
            const c = inc.get(k) ?? { tenantId: e.tenantId, scope, period, tokens: 0, micro: 0 };
            c.tokens += tokens;
            c.micro += micro;
            inc.set(k, c);
          }
        }
      }
      if (inc.size === 0) return [];
      const list = [...inc.values()];
      const { rows: totals } = await tx.query<{ tenant_id: string; scope: string; period: string; tokens: string; micro_usd: string }>(
        `INSERT INTO quota_counters (tenant_id, scope, period, tokens, micro_usd)
         SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u(t, s, p, n, m)
          WHERE EXISTS (SELECT 1 FROM tenants WHERE id = u.t)
         ON CONFLICT (scope, period) DO UPDATE SET tokens = quota_counters.tokens + excluded.tokens, micro_usd = quota_counters.micro_usd + excluded.micro_usd
         RETURNING tenant_id, scope, period, tokens::text, micro_usd::text`,
        [list.map((c) => c.tenantId), list.map((c) => c.scope), list.map((c) => c.period), list.map((c) => c.tokens), list.map((c) => c.micro)],
      );
      // The limits of the scopes that moved (the recorder's rows carry none).
      const keyIds = [...new Set(list.filter((c) => c.scope.startsWith('key:')).map((c) => c.scope.slice(4)))];
      const tenantIds = [...new Set(list.map((c) => c.tenantId))];
      const teams = list.filter((c) => c.scope.startsWith('team:')).map((c) => c.scope);
      const { rows: limitRows } = await tx.query<{ scope: string; limits: QuotaLimits }>(
        `SELECT 'key:' || id AS scope, limits FROM api_keys WHERE id = ANY($1::text[])
         UNION ALL SELECT 'tenant:' || id, limits FROM tenants WHERE id = ANY($2::text[])
         UNION ALL SELECT 'team:' || tenant_id || ':' || id, limits FROM teams WHERE 'team:' || tenant_id || ':' || id = ANY($3::text[])`,
        [keyIds, tenantIds, teams],
      );
      const limitsOf = new Map(limitRows.map((r) => [r.scope, r.limits]));
      const crossed: QuotaAlert[] = [];
      for (const t of totals) {
        const limits = limitsOf.get(t.scope);
        const c = inc.get(`${t.scope} ${t.period}`);
        if (!limits || !hasQuota(limits) || !c) continue;
        const daily = t.period.startsWith('d:');
        for (const q of QUOTAS) {
          const limit = limits[q];
          if (limit === undefined || q.endsWith('day') !== daily) continue;
          const after = q.startsWith('tokens') ? Number(t.tokens) : Number(t.micro_usd) / MICRO;
          const before = after - (q.startsWith('tokens') ? c.tokens : c.micro / MICRO);
          const soft = (limits.alert_at ?? 0.8) * limit;
          const at = new Date().toISOString();
          const base = { tenant_id: t.tenant_id, scope: t.scope, quota: q, period: t.period, used: after, limit, at };
          if (before < soft && after >= soft && soft < limit) crossed.push({ type: 'quota.soft_limit', ...base });
          if (before < limit && after >= limit) crossed.push({ type: 'quota.exceeded', ...base });
        }
      }
      const fresh: QuotaAlert[] = [];
      for (const a of crossed) {
        // Once per scope, period, quota and level, whichever gateway gets here first.
        const { rowCount } = await tx.query(
          `INSERT INTO quota_alerts (tenant_id, scope, period, quota, level, used, quota_limit) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [a.tenant_id, a.scope, a.period, a.quota, a.type === 'quota.exceeded' ? 'hard' : 'soft', a.used, a.limit],
        );
        if (rowCount > 0) fresh.push(a);
      }
      return fresh;
    },

    /** Logs and sends alerts recorded by `account`, after its transaction committed; forgets the counters read. */
    afterCommit(alerts: readonly QuotaAlert[]): void {
      memo.clear();
      for (const a of alerts) {
        log.warn({ tenant: a.tenant_id, scope: a.scope, quota: a.quota, period: a.period, used: a.used, limit: a.limit }, a.type === 'quota.exceeded' ? 'quota exhausted' : 'quota soft limit reached');
        const p = deliver(a).catch((err: unknown) => log.error({ err: (err as Error).message }, 'quota alert delivery failed'));
        deliveries.add(p);
        void p.finally(() => deliveries.delete(p));
      }
    },

    /** Resolves when every alert being delivered has been (or given up); tests and shutdown. */
    async idle(): Promise<void> {
      while (deliveries.size > 0) await Promise.all([...deliveries]);
    },
  };
}

export type Quotas = ReturnType<typeof createQuotas>;
