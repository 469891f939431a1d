import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Embedder } from '../embeddings/port.js';
import type { JobQueue } from '../jobs/port.js';
import { createSweeper } from '../jobs/sweeper.js';
import { createAnalyzer } from '../store/analyze.js';
import type { Sql } from '../store/sql.js';
import { getTokenizer } from '../tokens/tokenizer.js';
import type { CollectionSpec, VectorStore } from '../vector/port.js';
import type { Chunking } from './collections.js';
import { type ChunkSettings, chunkDocument, type PreparedChunk, vectorForgetter, writeChunkVectors } from './chunk-vectors.js';
import type { DocumentStatus } from './documents.js';
import { ParseError } from './parse/types.js';

// Ingestion of queued documents (documents.ts adds them): claimed one at a time, chunked, their
// chunks written and embedded, then made ready — in the gateway, or in a worker when there is a queue.

interface Claimed {
  tenant_id: string;
  id: string;
  /** The claim's expiry as claimed: renewing or finishing requires it unchanged (another run took over otherwise). */
  claim: string;
  collection_id: string;
  format: string;
  text: string;
  pages: PageSpan[] | null;
  chunking: Chunking;
}

type PageSpan = { page: number; start: number; end: number };

/** The page holding character `offset` (pages sorted by start). */
function pageAt(pages: readonly PageSpan[], offset: number): number {
  let lo = 0;
  let hi = pages.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((pages[mid] as PageSpan).start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return (pages[lo] as PageSpan).page;
}

/** The job kind that ingests queued documents (one pass over everything waiting). */
export const INGEST_DOCUMENTS_JOB = 'ingest_documents';

/** Chunks inserted per statement: on embedded PGlite each statement holds the event loop while it runs. */
const INSERT_BATCH = 250;

/** Cuts a document into chunks (and their passages); `name` names the document in a refusal. */
export type DocumentChunker = (text: string, settings: ChunkSettings, name: string) => Promise<PreparedChunk[]>;

/**
 * Ingests queued documents off the request path: chunk (on the parser thread when given one), store
 * the chunks (replacing any from an interrupted run), embed them, then mark the document ready. A
 * document is claimed for a while; a crash leaves it in parsing/embedding with an expired claim, and
 * the next sweep starts it over — it is never "ready" with chunks missing.
 */
export function createIngestor(deps: {
  sql: Sql;
  embedder: Embedder;
  vectors: VectorStore;
  durable: boolean;
  spec: CollectionSpec;
  sweepIntervalMs: number;
  log: Logger;
  /**
   * Told when a document became ready (or replaced an older version) in a collection: the memo of
   * which tenants have documents is refreshed, and cached answers drawn on the collection go.
   */
  onReady?: (tenantId: string, collectionId: string) => void;
  /** Ingestion runs as jobs of this queue (in whichever process takes them); in-process without one. */
  queue?: JobQueue | undefined;
  /**
   * Where documents are cut into chunks: the parser thread (`parser.chunk`), so the event loop does
   * not wait half a second per 4 MB; in this thread when omitted.
   */
  chunk?: DocumentChunker | undefined;
  /**
   * How long a claim on a document lasts (default 5 min). A run renews its claim while it embeds;
   * a claim that runs out means its process died, and another run starts the document over.
   */
  claimMs?: number | undefined;
}) {
  const { sql, embedder, vectors, spec, log } = deps;
  const claimMs = deps.claimMs ?? 5 * 60_000;
  const tokenizer = getTokenizer('o200k_base');
  const chunk: DocumentChunker = deps.chunk ?? (async (text, settings) => chunkDocument(text, tokenizer, settings));
  const analyzer = createAnalyzer(sql);
  let prepared = false;
  const forgetVectors = vectorForgetter(vectors, spec, log);

  async function claim(): Promise<Claimed | undefined> {
    const { rows } = await sql.query<Claimed>(
      `WITH d AS (
         UPDATE documents SET status = 'parsing', claimed_until = now() + $1::int * interval '1 millisecond', updated_at = now()
         WHERE (tenant_id, id) = (SELECT tenant_id, id FROM documents
                                  WHERE status IN ('queued', 'parsing', 'embedding') AND (claimed_until IS NULL OR claimed_until < now())
                                  ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING tenant_id, id, claimed_until::text AS claim, collection_id, format, text, pages)
       SELECT d.*, c.chunking FROM d JOIN collections c ON c.tenant_id = d.tenant_id AND c.id = d.collection_id`,
      [claimMs],
    );
    return rows[0];
  }

  /** Thrown when another run took the document over: this run stops and leaves the document to it. */
  const lostClaim = (doc: Claimed) => Object.assign(new Error(`document ${doc.id} was taken over by another run (its claim ran out)`), { lost: true });

  /**
   * Extends this run's claim on the document (and moves it to `status` when given); fails with
   * lostClaim when it is no longer this run's.
   */
  async function renew(doc: Claimed, status?: DocumentStatus): Promise<void> {
    const { rows } = await sql.query<{ claim: string }>(
      `UPDATE documents SET claimed_until = now() + $4::int * interval '1 millisecond',
                            status = coalesce($5, status), updated_at = CASE WHEN $5::text IS NULL THEN updated_at ELSE now() END
       WHERE tenant_id = $1 AND id = $2 AND claimed_until = $3::timestamptz RETURNING claimed_until::text AS claim`,
      [doc.tenant_id, doc.id, doc.claim, claimMs, status ?? null],
    );
    const next = rows[0];
    if (!next) throw lostClaim(doc);
    doc.claim = next.claim;
  }

  async function ingest(doc: Claimed): Promise<void> {
    const settings: ChunkSettings = {
      targetTokens: doc.chunking.target_tokens,
      overlapTokens: doc.chunking.overlap_tokens,
      passageTokens: doc.chunking.passage_tokens ?? 0,
    };
    let chunks: PreparedChunk[];
    try {
      chunks = await chunk(doc.text, settings, `document ${doc.id}`);
    } catch (err) {
      // The document itself is the problem (the parser thread refused it, or this thread's chunker
      // threw): say so, and do not try again. Anything else (the parser thread closing at shutdown)
      // is tried again by the next sweep.
      if (err instanceof ParseError) throw Object.assign(new Error(err.message), { permanent: true });
      if (!deps.chunk) throw Object.assign(new Error(`cannot be chunked: ${(err as Error).message}`), { permanent: true });
      throw err;
    }
    if (chunks.length === 0) throw Object.assign(new Error('cannot be chunked: the document has no text'), { permanent: true });
    const pages = doc.pages && doc.pages.length > 0 ? doc.pages : null;
    // No transaction: until the document is ready no search sees its chunks, and a run that dies
    // midway is started over by deleting what it wrote. Several statements let other queries (and,
    // on PGlite, the event loop) in between.
    await sql.query('DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2', [doc.tenant_id, doc.id]);
    const ids: string[] = [];
    for (let from = 0; from < chunks.length; from += INSERT_BATCH) {
      const rows = chunks.slice(from, from + INSERT_BATCH).map((c, i) => ({
        seq: from + i + 1,
        text: c.text,
        heading_path: c.headingPath,
        char_start: c.start,
        char_end: c.end,
        token_count: c.tokens,
        page: pages ? pageAt(pages, c.start) : null,
        page_end: pages ? pageAt(pages, c.end - 1) : null,
      }));
      const { rows: inserted } = await sql.query<{ id: string }>(
        `INSERT INTO chunks (tenant_id, collection_id, document_id, seq, text, heading_path, char_start, char_end, token_count, page, page_end)
         SELECT $1, $2, $3, r.seq, r.text, r.heading_path, r.char_start, r.char_end, r.token_count, r.page, r.page_end
         FROM jsonb_to_recordset($4::jsonb) AS r(seq int, text text, heading_path jsonb, char_start int, char_end int, token_count int, page int, page_end int)
         ORDER BY r.seq RETURNING id::text AS id`,
        [doc.tenant_id, doc.collection_id, doc.id, JSON.stringify(rows)],
      );
      for (const r of inserted) ids.push(r.id);
      // PGlite answers through promises alone: give timers and sockets their turn between statements.
      await yieldToLoop();
    }
    await renew(doc, 'embedding');
    let renewed = Date.now();
    // Full-text plans over a table grown by bulk ingestion need fresh statistics (PGlite never gathers them).
    analyzer.wrote('chunks', chunks.length);
    await writeChunkVectors(
      { embedder, vectors, spec, tokenizer },
      { tenantId: doc.tenant_id, id: doc.id, collectionId: doc.collection_id, passageTokens: settings.passageTokens },
      chunks.map((c, i) => ({ id: ids[i] as string, seq: i + 1, text: c.text, headingPath: c.headingPath, passages: c.passages })),
      // A document of megabytes embeds for longer than a claim lasts: the claim is renewed as it goes.
      async () => {
        if (Date.now() - renewed < claimMs / 3) return;
        await renew(doc);
        renewed = Date.now();
      },
    );
    // Ready, and the older versions of this document gone, in one transaction: a search (one
    // statement over ready documents) sees the old chunks or the new ones, never both.
    const outcome = await sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ version_key: string | null; revision: string }>(
        `UPDATE documents SET status = 'ready', chunk_count = $3, error = NULL, claimed_until = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND claimed_until = $4::timestamptz RETURNING version_key, revision::text AS revision`,
        [doc.tenant_id, doc.id, chunks.length, doc.claim],
      );
      const mine = rows[0];
      if (!mine) {
        const { rows: still } = await tx.query('SELECT 1 FROM documents WHERE tenant_id = $1 AND id = $2', [doc.tenant_id, doc.id]);
        if (still.length > 0) throw lostClaim(doc);
        return { deleted: true, replaced: [] as string[] };
      }
      if (mine.version_key === null) return { deleted: false, replaced: [] };
      const old = await tx.query<{ id: string }>(
        'DELETE FROM documents WHERE tenant_id = $1 AND collection_id = $2 AND version_key = $3 AND revision < $4::bigint RETURNING id',
        [doc.tenant_id, doc.collection_id, mine.version_key, mine.revision],
      );
      return { deleted: false, replaced: old.rows.map((r) => r.id) };
    });
    // Deleted while it was being embedded: take back the vectors this run wrote.
    if (outcome.deleted) await vectors.deleteByFilter({ collection: spec.name, tenantId: doc.tenant_id, filter: { document: doc.id } });
    else deps.onReady?.(doc.tenant_id, doc.collection_id);
    for (const id of outcome.replaced) await forgetVectors(doc.tenant_id, { document: id });
  }

  async function prepare(): Promise<void> {
    if (prepared) return;
    await vectors.ensureCollection(spec);
    // A store that forgets on restart (in memory) is refilled: every ready document is ingested again.
    if (!deps.durable) await sql.query("UPDATE documents SET status = 'queued', claimed_until = NULL WHERE status = 'ready'");
    prepared = true;
  }

  const sweeper = createSweeper({
    intervalMs: deps.sweepIntervalMs,
    queue: deps.queue ? { queue: deps.queue, kind: INGEST_DOCUMENTS_JOB } : undefined,
    async work(isClosed) {
      await prepare();
      for (;;) {
        if (isClosed()) return;
        const doc = await claim();
        if (!doc) return;
        try {
          await ingest(doc);
        } catch (err) {
          const reason = (err as Error).message.slice(0, 500);
          log.warn({ document: doc.id, err: reason }, 'document ingestion failed');
          // The document is another run's now: nothing of it is this run's to change.
          if ((err as { lost?: boolean }).lost) continue;
          if ((err as { permanent?: boolean }).permanent) {
            await sql
              .query("UPDATE documents SET status = 'failed', error = $3, claimed_until = NULL, updated_at = now() WHERE tenant_id = $1 AND id = $2", [
                doc.tenant_id,
                doc.id,
                reason,
              ])
              .catch(() => undefined);
          } else {
            // A dependency failed (the model, the vector store): keep the claim a while, then start over.
            await sql
              .query("UPDATE documents SET error = $3, claimed_until = now() + interval '30 seconds' WHERE tenant_id = $1 AND id = $2", [
                doc.tenant_id,
                doc.id,
                reason,
              ])
              .catch(() => undefined);
            return;
          }
        }
      }
    },
    onError: (err) => log.warn({ err: (err as Error).message }, 'document ingestion paused; the sweep retries'),
  });

  return { start: sweeper.start, notify: sweeper.notify, drain: sweeper.drain, close: sweeper.close };
}

export type Ingestor = ReturnType<typeof createIngestor>;
