/**
 * Keys for the admin API with a role: owner (everything, admin keys included), admin (everything
 * else), member (reads, and the tenants' API keys), viewer (reads). The ADMIN_API_KEY from the
 * environment is an owner key that lives outside this table (it bootstraps the first ones).
 */
export const up = `
CREATE TABLE admin_keys (
  id          text PRIMARY KEY,
  name        text NOT NULL DEFAULT '',
  role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  prefix      text NOT NULL,
  secret_hash text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
`;
