/**
 * Rolling session summaries. Each version folds the previous one and the turns after it into a new
 * text covering turns `from_seq`..`to_seq`; versions are kept (the history of what the model was
 * told), and the context pipeline uses the newest whose range ends where the replayed turns begin.
 * `sessions.tail_tokens` counts the tokens of the turns after the newest summary (appends add to it,
 * a new summary resets it), so the trigger and the sweep never sum a transcript.
 */
export const up = `
CREATE TABLE session_summaries (
  tenant_id      text NOT NULL,
  session_id     text NOT NULL,
  version        integer NOT NULL,
  from_seq       integer NOT NULL,
  to_seq         integer NOT NULL,
  text           text NOT NULL,
  token_count    integer NOT NULL,
  token_encoding text NOT NULL,
  method         text NOT NULL CHECK (method IN ('llm', 'extractive')),
  model          text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id, version),
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE,
  CHECK (from_seq <= to_seq)
);

ALTER TABLE sessions
  ADD COLUMN summarized_seq integer NOT NULL DEFAULT 0,
  ADD COLUMN tail_tokens    bigint NOT NULL DEFAULT 0;
UPDATE sessions s SET tail_tokens = coalesce((SELECT sum(m.token_count) FROM messages m WHERE m.tenant_id = s.tenant_id AND m.session_id = s.id), 0);
`;
