/**
 * The response cache's entries: SQL is their durable truth (Redis keeps a hot copy with the same
 * expiry, the vector store the embedding of each entry's question). An entry's id is derived from
 * its exact key, so storing the same request twice overwrites one row. `collections`, `user_id` and
 * `session_id` are the sources the answer was built from: a change to any of them deletes the entry.
 */
export const up = `
CREATE TABLE cache_entries (
  tenant_id         text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id                text NOT NULL,
  alias             text NOT NULL,
  scope             text NOT NULL,
  query             text NOT NULL,
  response          jsonb NOT NULL,
  prompt_tokens     integer NOT NULL,
  completion_tokens integer NOT NULL,
  collections       text[] NOT NULL DEFAULT '{}',
  user_id           text,
  session_id        text,
  hits              bigint NOT NULL DEFAULT 0,
  last_hit_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX cache_entries_expires ON cache_entries (expires_at);
CREATE INDEX cache_entries_hits ON cache_entries (tenant_id, hits DESC);
CREATE INDEX cache_entries_scope ON cache_entries (tenant_id, scope);
CREATE INDEX cache_entries_collections ON cache_entries USING gin (collections);
CREATE INDEX cache_entries_user ON cache_entries (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX cache_entries_session ON cache_entries (tenant_id, session_id) WHERE session_id IS NOT NULL;
`;
