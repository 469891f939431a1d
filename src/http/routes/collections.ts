import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import type { Embedder } from '../../embeddings/port.js';
import { badRequest, forbidden } from '../../errors.js';
import { collectionAccess, type Collection, type Collections } from '../../knowledge/collections.js';
import { type Documents, documentText } from '../../knowledge/documents.js';
import type { Ingestor } from '../../knowledge/ingestor.js';
import type { Parser } from '../../knowledge/parse/pool.js';
import type { ChunkSearch, SearchOptions } from '../../knowledge/search.js';
import { documentsFromFiles, type UploadLimits } from '../../knowledge/uploads.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { type MultipartLimits, receiveMultipart } from '../multipart.js';
import { validate } from '../schemas/validate.js';

const DEFAULT_CHUNKING = { target_tokens: 256, overlap_tokens: 32, passage_tokens: 96 };

export const createSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  description: z.string().max(2000).default(''),
  /** The deployment's embedder id, or "default" for it. */
  embedding_model: z.string().min(1).default('default'),
  chunking: z
    .strictObject({
      target_tokens: z.number().int().min(64).max(4096).default(DEFAULT_CHUNKING.target_tokens),
      overlap_tokens: z.number().int().min(0).max(2048).default(DEFAULT_CHUNKING.overlap_tokens),
      /** 0 embeds each chunk whole. */
      passage_tokens: z.number().int().min(0).max(4096).default(DEFAULT_CHUNKING.passage_tokens),
    })
    .refine((c) => c.overlap_tokens <= c.target_tokens / 2, { message: 'overlap_tokens must be at most half of target_tokens', path: ['overlap_tokens'] })
    .prefault({}),
  metadata: z.record(z.string(), z.unknown()).default({}),
});

const present = (c: Collection) => ({ object: 'collection', ...c });

/** Characters of one JSON document; larger texts wait for file upload (streamed to disk). */
const MAX_DOCUMENT_CHARS = 2_000_000;

export const documentSchema = z.strictObject({
  text: z.string().min(1, 'the document has no text').max(MAX_DOCUMENT_CHARS, `at most ${MAX_DOCUMENT_CHARS} characters per document`),
  title: z.string().max(500).default(''),
  format: z.enum(['text', 'markdown']).default('markdown'),
  external_id: z.string().min(1).max(200).optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
/** Several documents in one request: `{documents: [...]}`; one: the document itself. */
export const batchSchema = z.strictObject({ documents: z.array(documentSchema).min(1).max(100) });

const MULTIPART = /^multipart\/form-data\b/i;

/** The text fields of a multipart upload (all optional); title and external_id only with one file. */
export const uploadFieldsSchema = z.strictObject({
  title: z.string().max(500).optional(),
  external_id: z.string().min(1).max(200).optional(),
  metadata: z
    .string()
    .transform((s, ctx) => {
      try {
        const v: unknown = JSON.parse(s);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {}
      ctx.addIssue({ code: 'custom', message: 'metadata must be a JSON object, e.g. {"team":"legal"}' });
      return z.NEVER;
    })
    .default({}),
});

export const searchSchema = z.strictObject({
  query: z.string().trim().min(1).max(4000),
  top_k: z.number().int().min(1).max(100).default(8),
  /** hybrid (full text + vectors, fused), or one retriever alone. */
  mode: z.enum(['hybrid', 'lexical', 'vector']).default('hybrid'),
  /** Document metadata every hit must match: `{"team": "legal", "year": {"in": [2023, 2024]}}`. */
  filter: z
    .record(
      z.string().regex(/^[\w.-]{1,64}$/, 'metadata keys are letters, digits, _ . -'),
      z.union([z.string(), z.number(), z.boolean(), z.strictObject({ in: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).max(100) })]),
    )
    .optional(),
  /** Matching passages of each hit, query words in **bold**. */
  highlights: z.boolean().default(true),
  /** Rerank the best fused chunks with the configured reranking model (default: whenever one is configured). */
  rerank: z.boolean().optional(),
});
const searchOptions = (b: z.infer<typeof searchSchema>): SearchOptions => ({
  topK: b.top_k,
  mode: b.mode,
  highlights: b.highlights,
  ...(b.filter ? { filter: b.filter } : {}),
  ...(b.rerank !== undefined ? { rerank: b.rerank } : {}),
});
export const crossSearchSchema = searchSchema.extend({ collections: z.array(z.string().min(1)).min(1).max(100).optional() });

/**
 * /v1/collections — the knowledge collections of the key's tenant. A key whose scopes name
 * collections (`collection:<id>`) sees only those; any other id answers 404, as for another tenant's.
 */
export function collectionRoutes(deps: {
  auth: Authenticator;
  collections: Collections;
  documents: Documents;
  ingestor: Ingestor;
  search: ChunkSearch;
  embedder: Embedder;
  parser: Parser;
  upload: UploadLimits & MultipartLimits;
}) {
  const { collections } = deps;
  const router = ExpressRouter();
  const auth = requireKey(deps.auth, 'documents');

  router.post('/v1/collections', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    if (!collectionAccess(principal.scopes).all) {
      throw forbidden('This key is limited to named collections and cannot create new ones.', 'scope_not_allowed');
    }
    const body = validate(createSchema, req.body);
    const model = body.embedding_model === 'default' ? deps.embedder.model : body.embedding_model;
    if (model !== deps.embedder.model) {
      throw badRequest(`embedding_model "${body.embedding_model}" is not served here; this gateway embeds with "${deps.embedder.model}" (or say "default").`, 'embedding_model');
    }
    const created = await collections.create(principal.tenantId, { ...body, embedding_model: model });
    res.status(201).json(present(created));
  });

  router.get('/v1/collections', auth, async (_req, res) => {
    const principal = keyPrincipal(res);
    const list = await collections.list(principal.tenantId, collectionAccess(principal.scopes));
    res.json({ object: 'list', data: list.map(present) });
  });

  router.get('/v1/collections/:id', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    res.json(present(await collections.get(principal.tenantId, collectionAccess(principal.scopes), req.params.id as string)));
  });

  router.delete('/v1/collections/:id', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const id = req.params.id as string;
    await deps.documents.deleteCollection(principal.tenantId, collectionAccess(principal.scopes), id);
    res.json({ id, object: 'collection.deleted', deleted: true });
  });

  // Documents as files (multipart) or as JSON text; ingested off the request path: 202 with the ids to poll.
  router.post('/v1/collections/:id/documents', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const access = collectionAccess(principal.scopes);
    const collectionId = req.params.id as string;
    if (MULTIPART.test(req.headers['content-type'] ?? '')) {
      // An unknown collection is refused before a byte of the files is read.
      await collections.get(principal.tenantId, access, collectionId);
      const upload = await receiveMultipart(req, deps.upload);
      try {
        const shared = validate(uploadFieldsSchema, upload.fields);
        if (upload.files.length === 0) throw badRequest('The request has no file parts; send files as multipart/form-data parts named "file".', 'file', 'no_files');
        if (upload.files.length > 1 && (shared.title !== undefined || shared.external_id !== undefined)) {
          throw badRequest('title and external_id name one document: send one file per request to set them.', shared.title !== undefined ? 'title' : 'external_id');
        }
        const { documents, errors } = await documentsFromFiles(upload.files, deps.parser, deps.upload, { ...shared, external_id: shared.external_id ?? null });
        const added = documents.length > 0 ? await deps.documents.add(principal.tenantId, access, collectionId, documents) : [];
        if (added.some((d) => d.created)) deps.ingestor.notify();
        const data = added.map(({ created, ...d }, i) => ({ object: 'document', ...d, created, file: upload.files[(documents[i] as { index: number }).index]?.filename }));
        const refused = errors.map(({ index: _index, ...e }) => e);
        if (data.length === 0) {
          // Nothing went in: the request fails with the files' status (one kind of refusal) or 422.
          const status = refused.every((e) => e.status === refused[0]?.status) ? (refused[0]?.status ?? 422) : 422;
          const summary = refused.length === 1 ? (refused[0]?.error.message ?? '') : `None of the ${refused.length} files could be ingested; see errors.`;
          res.status(status).json({ error: { message: summary, type: 'invalid_request_error', param: 'file', code: refused.length === 1 ? refused[0]?.error.code : 'files_refused' }, errors: refused });
          return;
        }
        res.status(202).json({ object: 'list', data, errors: refused });
      } finally {
        await upload.cleanup();
      }
      return;
    }
    const raw = req.body as unknown;
    const docs = raw !== null && typeof raw === 'object' && 'documents' in raw ? validate(batchSchema, raw).documents : [validate(documentSchema, raw)];
    const added = await deps.documents.add(
      principal.tenantId,
      access,
      collectionId,
      docs.map((d) => ({ ...documentText(d.text), title: d.title, format: d.format, external_id: d.external_id ?? null, metadata: d.metadata })),
    );
    if (added.some((d) => d.created)) deps.ingestor.notify();
    res.status(202).json({ object: 'list', data: added.map(({ created, ...d }) => ({ object: 'document', ...d, created })), errors: [] });
  });

  router.get('/v1/collections/:id/documents', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const list = await deps.documents.list(principal.tenantId, collectionAccess(principal.scopes), req.params.id as string);
    res.json({ object: 'list', data: list.map((d) => ({ object: 'document', ...d })) });
  });

  router.get('/v1/documents/:id', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    res.json({ object: 'document', ...(await deps.documents.get(principal.tenantId, collectionAccess(principal.scopes), req.params.id as string)) });
  });

  router.delete('/v1/documents/:id', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const id = req.params.id as string;
    await deps.documents.delete(principal.tenantId, collectionAccess(principal.scopes), id);
    res.json({ id, object: 'document.deleted', deleted: true });
  });

  router.post('/v1/collections/:id/search', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const id = req.params.id as string;
    const body = validate(searchSchema, req.body);
    // The collection is looked up while the search runs (every query of which is bounded by the
    // tenant): a round trip less before the answer. A collection the key cannot see is still a 404,
    // whatever the search did.
    const [found, searched] = await Promise.allSettled([
      collections.get(principal.tenantId, collectionAccess(principal.scopes), id),
      deps.search.search(principal.tenantId, [id], body.query, searchOptions(body)),
    ]);
    if (found.status === 'rejected') throw found.reason;
    if (searched.status === 'rejected') throw searched.reason;
    const hits = searched.value;
    res.json({ object: 'list', collection_id: id, data: hits.map((h) => ({ object: 'search.result', ...h })) });
  });

  // Across collections: those named (each must be visible to the key), or every one the key sees.
  router.post('/v1/search', auth, async (req, res) => {
    const principal = keyPrincipal(res);
    const access = collectionAccess(principal.scopes);
    const body = validate(crossSearchSchema, req.body);
    const ids = body.collections
      ? (await Promise.all(body.collections.map((c) => collections.get(principal.tenantId, access, c)))).map((c) => c.id)
      : (await collections.list(principal.tenantId, access)).map((c) => c.id);
    const hits = await deps.search.search(principal.tenantId, ids, body.query, searchOptions(body));
    res.json({ object: 'list', collections: ids, data: hits.map((h) => ({ object: 'search.result', ...h })) });
  });

  return router;
}
