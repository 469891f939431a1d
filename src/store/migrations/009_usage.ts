/**
 * One row per model request that reached the gateway's chat path: who (tenant, key, user, session),
 * what (alias, the target that answered, tokens in and out, context tokens by section, cache hit),
 * what it cost (the price table, src/usage/prices.ts) or saved, how long it took and how it ended.
 * Rows are written in batches off the request path (src/usage/recorder.ts).
 */
export const up = `
CREATE TABLE usage_events (
  tenant_id         text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id                bigserial,
  request_id        text NOT NULL,
  key_id            text,
  user_id           text,
  session_id        text,
  route             text NOT NULL,
  alias             text NOT NULL,
  provider          text,
  model             text,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  cached_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  context_tokens    jsonb,
  cache             text CHECK (cache IN ('exact', 'semantic')),
  cost_usd          double precision NOT NULL DEFAULT 0,
  saved_usd         double precision NOT NULL DEFAULT 0,
  latency_ms        double precision NOT NULL,
  status            integer NOT NULL,
  error_code        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX usage_events_time ON usage_events (tenant_id, created_at);
`;
