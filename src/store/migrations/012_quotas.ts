/**
 * Token and money quotas: what each key and tenant used per day and per month (UTC), added up by the
 * usage recorder in the same transaction as the usage rows it writes, so SQL stays the one truth and
 * gateways read a counter instead of summing rows. Amounts are micro-USD (integers add exactly).
 * `quota_alerts` makes each alert (a soft limit reached, a quota exhausted) fire once per period,
 * whichever gateway sees it first.
 */
export const up = `
CREATE TABLE quota_counters (
  tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  scope      text NOT NULL,
  period     text NOT NULL,
  tokens     bigint NOT NULL DEFAULT 0,
  micro_usd  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, period)
);
CREATE TABLE quota_alerts (
  tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  scope      text NOT NULL,
  period     text NOT NULL,
  quota      text NOT NULL,
  level      text NOT NULL CHECK (level IN ('soft', 'hard')),
  used       double precision NOT NULL,
  quota_limit double precision NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  PRIMARY KEY (scope, period, quota, level)
);
`;
