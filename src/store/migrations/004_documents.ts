/**
 * Documents of a collection and their chunks. A document's text is kept in SQL (the source of truth
 * a re-chunk or re-embed starts from); chunks are full-text indexed and embedded by the ingestion
 * worker, which moves the document through queued → parsing → embedding → ready (or failed + reason).
 */
export const up = `
CREATE TABLE documents (
  tenant_id      text NOT NULL,
  id             text NOT NULL,
  collection_id  text NOT NULL,
  title          text NOT NULL DEFAULT '',
  external_id    text,
  content_hash   text NOT NULL,
  format         text NOT NULL,
  status         text NOT NULL CHECK (status IN ('queued', 'parsing', 'embedding', 'ready', 'failed')),
  error          text,
  text           text NOT NULL,
  chars          integer NOT NULL,
  chunk_count    integer NOT NULL DEFAULT 0,
  metadata       jsonb NOT NULL DEFAULT '{}',
  claimed_until  timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, collection_id) REFERENCES collections(tenant_id, id) ON DELETE CASCADE
);
-- The same bytes uploaded again are the same document.
CREATE UNIQUE INDEX documents_content ON documents (tenant_id, collection_id, content_hash);
CREATE INDEX documents_pending ON documents (created_at) WHERE status IN ('queued', 'parsing', 'embedding');

CREATE TABLE chunks (
  id             bigserial PRIMARY KEY,
  tenant_id      text NOT NULL,
  collection_id  text NOT NULL,
  document_id    text NOT NULL,
  seq            integer NOT NULL,
  text           text NOT NULL,
  heading_path   jsonb NOT NULL DEFAULT '[]',
  char_start     integer NOT NULL,
  char_end       integer NOT NULL,
  token_count    integer NOT NULL,
  search         tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
  FOREIGN KEY (tenant_id, document_id) REFERENCES documents(tenant_id, id) ON DELETE CASCADE,
  UNIQUE (tenant_id, document_id, seq)
);
CREATE INDEX chunks_collection ON chunks (tenant_id, collection_id);
CREATE INDEX chunks_search ON chunks USING gin (search);
`;
