/**
 * Prompt APIs: a named prompt per tenant, and its versions. A version is immutable (template,
 * variables, model alias, parameters); `prompts.live_version` is the one a run uses when it pins
 * none, so publishing, rolling back and rolling forward are one UPDATE.
 */
export const up = `
CREATE TABLE prompts (
  tenant_id     text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name          text NOT NULL,
  live_version  integer NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE prompt_versions (
  tenant_id       text NOT NULL,
  name            text NOT NULL,
  version         integer NOT NULL CHECK (version > 0),
  description     text NOT NULL DEFAULT '',
  system_template text,
  user_template   text NOT NULL,
  -- [{name, type, required, description?, default?}]
  variables       jsonb NOT NULL DEFAULT '[]',
  model           text NOT NULL,
  -- Chat-completion fields sent with every run (temperature, max_tokens, response_format, …).
  params          jsonb NOT NULL DEFAULT '{}',
  -- The API key that published the version.
  created_by      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name, version),
  FOREIGN KEY (tenant_id, name) REFERENCES prompts (tenant_id, name) ON DELETE CASCADE
);
`;
