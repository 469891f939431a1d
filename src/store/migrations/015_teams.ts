/**
 * Teams (or projects) inside a tenant: API keys may belong to one, and a team has its own rate limits
 * and quotas (`limits`, the same shape as a key's), shared by its keys. Usage rows carry the team.
 */
export const up = `
CREATE TABLE teams (
  tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id         text NOT NULL,
  name       text NOT NULL,
  limits     jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE api_keys ADD COLUMN team_id text;
ALTER TABLE usage_events ADD COLUMN team_id text;
`;
