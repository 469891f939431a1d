/**
 * Uploaded files and document versions. A document made from a file keeps the file's name, size
 * and (pdf) where each page lies in the extracted text, so every chunk can name its pages.
 * `version_key` is what makes two uploads versions of one document — the external id, or the
 * title when there is none — and `revision` orders them: when a version becomes ready, the older
 * versions with its key go, in the same transaction, so a search sees either the old chunks or
 * the new ones, never a mix.
 */
export const up = `
ALTER TABLE documents
  ADD COLUMN filename     text,
  ADD COLUMN bytes        bigint,
  ADD COLUMN pages        jsonb,
  ADD COLUMN page_count   integer,
  ADD COLUMN version_key  text,
  ADD COLUMN replaces     text,
  ADD COLUMN revision     bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX documents_version ON documents (tenant_id, collection_id, version_key) WHERE version_key IS NOT NULL;

ALTER TABLE chunks
  ADD COLUMN page      integer,
  ADD COLUMN page_end  integer;
`;
