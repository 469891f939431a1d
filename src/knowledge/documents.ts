import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Embedder } from '../embeddings/port.js';
import { notFound } from '../errors.js';
import type { Sql } from '../store/sql.js';
import { newId } from '../tenancy/ids.js';
import type { VectorStore } from '../vector/port.js';
import type { CollectionAccess, Collections } from './collections.js';
import { chunkCollection, vectorForgetter } from './chunk-vectors.js';
import type { DocumentFormat } from './parse/types.js';

export type DocumentStatus = 'queued' | 'parsing' | 'embedding' | 'ready' | 'failed';

export interface DocumentInfo {
  id: string;
  collection_id: string;
  title: string;
  external_id: string | null;
  format: DocumentFormat;
  status: DocumentStatus;
  error: string | null;
  chars: number;
  chunk_count: number;
  metadata: Record<string, unknown>;
  /** The uploaded file's name and size (null for documents sent as JSON text). */
  filename: string | null;
  bytes: number | null;
  page_count: number | null;
  /** The version of this document (same external id, else same title) it replaces once ready. */
  replaces: string | null;
  created_at: string;
  updated_at: string;
}

export interface NewDocument {
  /** The document's text as UTF-8 (see ParsedFile: large texts stay bytes on their way to SQL), and its length as a string. */
  utf8: Buffer;
  chars: number;
  title: string;
  format: DocumentFormat;
  external_id: string | null;
  metadata: Record<string, unknown>;
  /** From an uploaded file: its name, size, the hash of its bytes, and where its pages lie in `text`. */
  file?: { name: string; bytes: number; sha256: string; pages?: Array<{ page: number; start: number; end: number }> };
}

/** A document's text as NewDocument carries it. */
export const documentText = (text: string): Pick<NewDocument, 'utf8' | 'chars'> => ({ utf8: Buffer.from(text), chars: text.length });

const COLUMNS =
  'id, collection_id, title, external_id, format, status, error, chars, chunk_count, metadata, filename, bytes::float8 AS bytes, page_count, replaces, created_at, updated_at';
const present = (r: DocumentInfo): DocumentInfo => ({
  ...r,
  created_at: new Date(r.created_at).toISOString(),
  updated_at: new Date(r.updated_at).toISOString(),
});

/** Documents in SQL, within a tenant and the caller's collection access. */
export function createDocuments(deps: {
  sql: Sql;
  collections: Collections;
  vectors: VectorStore;
  embedder: Embedder;
  log: Logger;
  /** Told after a document or collection was deleted (cached answers drawn on the collection go). */
  onDelete?: ((tenantId: string, collectionId: string) => void) | undefined;
}) {
  const { sql, collections, vectors } = deps;
  const spec = chunkCollection(deps.embedder);
  const forgetVectors = vectorForgetter(vectors, spec, deps.log);

  async function get(tenantId: string, access: CollectionAccess, id: string): Promise<DocumentInfo> {
    const { rows } = await sql.query<DocumentInfo>(`SELECT ${COLUMNS} FROM documents WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    const r = rows[0];
    if (!r || !(access.all || access.ids.has(r.collection_id))) throw notFound(`No document with id ${id}.`, 'document_not_found');
    return present(r);
  }

  return {
    spec,
    /**
     * Queues documents for ingestion. The same text (or file bytes) in the same collection is the
     * same document: it is returned as it is (`created: false`), not ingested again. A document with
     * the external id — or, without one, the title — of an existing one is its new version: it
     * replaces the old one when it is ready (see the ingestor).
     */
    async add(tenantId: string, access: CollectionAccess, collectionId: string, docs: NewDocument[]): Promise<Array<DocumentInfo & { created: boolean }>> {
      await collections.get(tenantId, access, collectionId);
      const out: Array<DocumentInfo & { created: boolean }> = [];
      for (const d of docs) {
        const hash = d.file ? `file:${d.file.sha256}` : createHash('sha256').update(d.format).update('\u0000').update(d.utf8).digest('hex');
        const versionKey = d.external_id !== null ? `id:${d.external_id}` : d.title !== '' ? `title:${d.title}` : null;
        const { rows } = await sql.query<DocumentInfo>(
          `INSERT INTO documents (tenant_id, id, collection_id, title, external_id, content_hash, format, status, text, chars, metadata,
                                  filename, bytes, pages, page_count, version_key, replaces)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', convert_from($8::bytea, 'UTF8'), $9, $10, $11, $12, $13, $14, $15,
                   (SELECT id FROM documents WHERE tenant_id = $1 AND collection_id = $3 AND version_key = $15 ORDER BY revision DESC LIMIT 1))
           ON CONFLICT (tenant_id, collection_id, content_hash) DO NOTHING RETURNING ${COLUMNS}`,
          [
            tenantId,
            newId('doc'),
            collectionId,
            d.title,
            d.external_id,
            hash,
            d.format,
            d.utf8,
            d.chars,
            JSON.stringify(d.metadata),
            d.file?.name ?? null,
            d.file?.bytes ?? null,
            d.file?.pages ? JSON.stringify(d.file.pages) : null,
            d.file?.pages?.length ?? null,
            versionKey,
          ],
        );
        if (rows[0]) {
          out.push({ ...present(rows[0]), created: true });
          continue;
        }
        const existing = await sql.query<DocumentInfo>(`SELECT ${COLUMNS} FROM documents WHERE tenant_id = $1 AND collection_id = $2 AND content_hash = $3`, [
          tenantId,
          collectionId,
          hash,
        ]);
        out.push({ ...present(existing.rows[0] as DocumentInfo), created: false });
      }
      return out;
    },

    get,

    async list(tenantId: string, access: CollectionAccess, collectionId: string): Promise<DocumentInfo[]> {
      await collections.get(tenantId, access, collectionId);
      const { rows } = await sql.query<DocumentInfo>(`SELECT ${COLUMNS} FROM documents WHERE tenant_id = $1 AND collection_id = $2 ORDER BY created_at, id`, [
        tenantId,
        collectionId,
      ]);
      return rows.map(present);
    },

    /** Deletes a document, its chunks (SQL) and their vectors. */
    async delete(tenantId: string, access: CollectionAccess, id: string): Promise<void> {
      const doc = await get(tenantId, access, id);
      await sql.query('DELETE FROM documents WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      await forgetVectors(tenantId, { document: id });
      deps.onDelete?.(tenantId, doc.collection_id);
    },

    /** Deletes a collection with its documents, chunks and vectors. */
    async deleteCollection(tenantId: string, access: CollectionAccess, collectionId: string): Promise<void> {
      await collections.delete(tenantId, access, collectionId);
      await forgetVectors(tenantId, { collection: collectionId });
      deps.onDelete?.(tenantId, collectionId);
    },
  };
}

export type Documents = ReturnType<typeof createDocuments>;
