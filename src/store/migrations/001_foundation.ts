/** Tenants, API keys, sessions and the durable transcript. */
export const up = `
CREATE TABLE tenants (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  metadata    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each secret is stored; the secret is shown once, at creation.
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name         text NOT NULL DEFAULT '',
  prefix       text NOT NULL,
  secret_hash  text NOT NULL UNIQUE,
  scopes       jsonb NOT NULL DEFAULT '[]',
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE sessions (
  tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id          text NOT NULL,
  user_id     text,
  last_seq    integer NOT NULL DEFAULT 0,
  metadata    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

-- The durable transcript: one row per turn, numbered per session. content holds the text;
-- fields keeps what is not plain text (content parts, tool calls, name) so a turn replays exactly.
CREATE TABLE messages (
  id           bigserial PRIMARY KEY,
  tenant_id    text NOT NULL,
  session_id   text NOT NULL,
  seq          integer NOT NULL,
  role         text NOT NULL CHECK (role IN ('system','developer','user','assistant','tool')),
  content      text NOT NULL DEFAULT '',
  fields       jsonb,
  token_encoding text NOT NULL,
  token_count  integer NOT NULL,
  external_id  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  metadata     jsonb NOT NULL DEFAULT '{}',
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE,
  UNIQUE (tenant_id, session_id, seq)
);
CREATE UNIQUE INDEX messages_external_id ON messages (tenant_id, session_id, external_id) WHERE external_id IS NOT NULL;
`;
