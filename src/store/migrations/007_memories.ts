/**
 * Long-term fact memory. A memory is one fact about a user (their preferences, plans, people,
 * events — dates resolved to absolute time), scoped by tenant and user and optionally a session.
 * Facts are never overwritten in place: an update closes the old row (`valid_to`, `superseded_by`)
 * and opens a new one, so "where does Ada live" has one current answer and a history. Every change
 * is also an event in `memory_events` (the history endpoint), with the turns it came from.
 * `sessions.facts_seq` is how far the fact extractor has read each session.
 */
export const up = `
CREATE TABLE memories (
  tenant_id     text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id            text NOT NULL,
  user_id       text NOT NULL,
  session_id    text,
  text          text NOT NULL,
  category      text NOT NULL DEFAULT 'fact',
  -- When what the fact says happens or happened (an event, a plan), if it has a date.
  event_at      timestamptz,
  source        text NOT NULL CHECK (source IN ('extracted', 'api')),
  -- [{session_id, seq}] of the turns the fact was read from.
  source_turns  jsonb NOT NULL DEFAULT '[]',
  metadata      jsonb NOT NULL DEFAULT '{}',
  valid_from    timestamptz NOT NULL DEFAULT now(),
  valid_to      timestamptz,
  superseded_by text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  search        tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX memories_user_current ON memories (tenant_id, user_id) WHERE valid_to IS NULL;
CREATE INDEX memories_search ON memories USING gin (search);

CREATE TABLE memory_events (
  tenant_id     text NOT NULL,
  id            bigserial,
  memory_id     text NOT NULL,
  user_id       text NOT NULL,
  event         text NOT NULL CHECK (event IN ('add', 'update', 'invalidate', 'delete', 'restate')),
  text          text,
  previous_text text,
  -- The memory this one replaced (update) or that replaced it.
  related_id    text,
  source_turns  jsonb NOT NULL DEFAULT '[]',
  actor         text NOT NULL CHECK (actor IN ('extractor', 'api')),
  at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX memory_events_memory ON memory_events (tenant_id, memory_id);
CREATE INDEX memory_events_user ON memory_events (tenant_id, user_id);

ALTER TABLE sessions ADD COLUMN facts_seq integer NOT NULL DEFAULT 0;
`;
