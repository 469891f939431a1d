import type { Logger } from 'pino';
import type { Embedder } from '../embeddings/port.js';
import type { Tokenizer } from '../tokens/tokenizer.js';
import { modelCollection } from '../vector/naming.js';
import type { CollectionSpec, VectorStore } from '../vector/port.js';
import { type Chunk, type ChunkingOptions, chunkText, passages } from './chunker.js';

// The vectors of document chunks: which collection, what text each passage is embedded from, the
// point ids, and writing or forgetting a document's points. Used by the ingestor and the reindex.

/** The vector collection of a deployment's chunks; searches filter on the collection, deletions on the document. */
export function chunkCollection(embedder: Pick<Embedder, 'model' | 'dimensions'>): CollectionSpec {
  return modelCollection('chunks', embedder, ['collection', 'document']);
}

/**
 * What a chunk's vectors are made from: its text as a reader sees it — without HTML tags, markdown
 * emphasis, link targets or heading/list/table markers, which carry no meaning and only blur a small
 * sentence encoder's vector (the chunk itself keeps its exact text) — cut into passages of at most
 * `passageTokens` (0: the whole chunk), each under the chunk's heading path.
 */
export function embeddingPassages(c: Pick<Chunk, 'headingPath' | 'text'>, tokenizer: Tokenizer, passageTokens: number): string[] {
  const plain = c.text
    .replace(/<[^>\n]{1,200}>/g, '')
    .replace(/!?\[([^\]\n]*)\]\([^)\n]*\)/g, '$1')
    .replace(/(\*\*|__|`+|~~)/g, '')
    .replace(/^\s{0,3}(?:#{1,6}|[-*+]|\d{1,9}[.)]|>)\s+/gm, '')
    .replace(/\|/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .trim();
  const heading = c.headingPath.length > 0 ? `${c.headingPath.join(' › ')}\n` : '';
  const parts = passages(plain, tokenizer, passageTokens);
  return (parts.length > 0 ? parts : ['']).map((p) => `${heading}${p}`);
}

/** How a collection cuts its documents: chunks, and the passages each chunk is embedded as. */
export interface ChunkSettings extends ChunkingOptions {
  /** Tokens per embedded passage; 0 embeds each chunk whole. */
  passageTokens: number;
}

/** A chunk with the passages its vectors are made from. */
export interface PreparedChunk extends Chunk {
  passages: string[];
}

/**
 * A document's chunks and their passages: all the CPU work of ingestion before embedding. The
 * ingestor runs it on the parser thread (half a second for a document of 4 MB, measured), so the
 * event loop that serves chat does not wait on it.
 */
export function chunkDocument(text: string, tokenizer: Tokenizer, settings: ChunkSettings): PreparedChunk[] {
  return chunkText(text, tokenizer, settings).map((c) => ({ ...c, passages: embeddingPassages(c, tokenizer, settings.passageTokens) }));
}

/**
 * The id of a chunk's `n`-th passage vector (from 0): the first is the chunk's own id, so a chunk of
 * one passage is one point named after it. Every point's payload names its chunk.
 */
export const passagePointId = (chunkId: string, n: number): string => (n === 0 ? chunkId : `${chunkId}.${n}`);

/** Passages embedded per call: enough to keep the model busy, few enough to report progress often. */
const EMBED_BATCH = 32;

/**
 * Replaces a document's vectors: deletes its points, then embeds the passages of its chunks and
 * upserts one point per passage, named after its chunk (a rerun overwrites them by id). The ingestor
 * writes a new document's vectors with it (its chunks' passages made beforehand, see chunkDocument);
 * the reindex command rewrites a ready document's from SQL.
 * `onChunks` hears how many of the chunks are complete after each batch (and is awaited). Returns the points written.
 */
export async function writeChunkVectors(
  deps: { embedder: Embedder; vectors: VectorStore; spec: CollectionSpec; tokenizer: Tokenizer },
  doc: { tenantId: string; id: string; collectionId: string; passageTokens: number },
  chunks: ReadonlyArray<Pick<Chunk, 'headingPath' | 'text'> & { id: string; seq: number; passages?: string[] }>,
  onChunks?: (done: number) => void | Promise<void>,
): Promise<number> {
  const { embedder, vectors, spec } = deps;
  await vectors.deleteByFilter({ collection: spec.name, tenantId: doc.tenantId, filter: { document: doc.id } });
  const points = chunks.flatMap((c, i) =>
    (c.passages ?? embeddingPassages(c, deps.tokenizer, doc.passageTokens)).map((text, n) => ({
      id: passagePointId(c.id, n),
      text,
      chunkIndex: i,
      payload: { collection: doc.collectionId, document: doc.id, chunk: c.id, seq: c.seq },
    })),
  );
  for (let i = 0; i < points.length; i += EMBED_BATCH) {
    const batch = points.slice(i, i + EMBED_BATCH);
    const vecs = await embedder.embed(
      batch.map((p) => p.text),
      { kind: 'document' },
    );
    await vectors.upsert({
      collection: spec.name,
      tenantId: doc.tenantId,
      points: batch.map((p, j) => ({ id: p.id, vector: vecs[j] as Float32Array, payload: p.payload })),
    });
    // Every chunk before the next passage's is complete.
    await onChunks?.(points[i + EMBED_BATCH]?.chunkIndex ?? chunks.length);
  }
  return points.length;
}

/**
 * Removes the vectors of documents already gone from SQL. Searches can no longer return them (a
 * hit needs its chunk row); a store that is down keeps them until a reindex, which the log says.
 */
export function vectorForgetter(vectors: VectorStore, spec: CollectionSpec, log: Logger) {
  return (tenantId: string, filter: Record<string, string>): Promise<void> =>
    vectors.deleteByFilter({ collection: spec.name, tenantId, filter }).catch((err: unknown) => {
      log.warn({ filter, err: (err as Error).message }, 'vectors of deleted documents could not be removed; a reindex removes them');
    });
}
