/** Knowledge collections: named sets of documents a tenant uploads, each with its chunking settings. */
export const up = `
CREATE TABLE collections (
  tenant_id        text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id               text NOT NULL,
  name             text NOT NULL,
  description      text NOT NULL DEFAULT '',
  -- The embedder that makes (and must keep making) this collection's vectors.
  embedding_model  text NOT NULL,
  chunking         jsonb NOT NULL,
  metadata         jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, name)
);
`;
