/**
 * Episodic memory over the transcript: every turn is full-text indexed (a generated tsvector, so no
 * write path can forget it) and tracked until the indexer has embedded it into the vector store.
 */
export const up = `
-- The user a turn belongs to, copied from its session at append time, so a user's memories can be
-- searched across their sessions without a join.
ALTER TABLE messages ADD COLUMN user_id text;
CREATE INDEX messages_user ON messages (tenant_id, user_id) WHERE user_id IS NOT NULL;

-- The speaker's name is part of what a turn is about: "what do Melanie's kids like" is answered by
-- Melanie's own turns ("my kids love…"), which never spell her name.
ALTER TABLE messages ADD COLUMN search tsvector
  GENERATED ALWAYS AS (to_tsvector('english', coalesce(fields->>'name', '') || ' ' || content)) STORED;
CREATE INDEX messages_search ON messages USING gin (search);

-- Set by the indexer once the turn's vector is in the store (or the turn needs none); NULL means
-- "to embed". A claim keeps two indexers from embedding the same rows; it expires, so a crash
-- mid-batch only delays them.
ALTER TABLE messages ADD COLUMN embedded_model text;
ALTER TABLE messages ADD COLUMN embed_claimed_until timestamptz;
CREATE INDEX messages_unembedded ON messages (id) WHERE embedded_model IS NULL;
`;
