import type { ChunkHit, ChunkSearch } from '../../knowledge/search.js';
import type { Candidate, ContextStage } from '../types.js';

/** A chunk's typical cost in a prompt (the default chunking targets 256); sets how many to fetch. */
const TOKENS_PER_CHUNK = 256;
const MIN_CHUNKS = 8;
const MAX_CHUNKS = 50;

/**
 * The chunks of the request's knowledge collections that best match the latest message, grouped
 * under their document in the prompt and kept in reading order inside it.
 */
export function createDocumentsStage(search: ChunkSearch): ContextStage {
  return {
    section: 'documents',
    async gather(input) {
      if (input.collections.length === 0) return [];
      const topK = Math.min(MAX_CHUNKS, Math.max(MIN_CHUNKS, Math.ceil(input.room / TOKENS_PER_CHUNK)));
      const hits = await search.search(input.tenantId, input.collections, input.query, { topK, vector: input.queryVector() });
      return chunkCandidates(hits, input.citations);
    },
  };
}

/**
 * Where a chunk sits inside its document: "Hotels › Europe, p. 3–4" (the heading path without a
 * first heading that only repeats the title, and the pages of a pdf); empty when there is neither.
 */
export function chunkLocation(h: Pick<ChunkHit, 'title' | 'heading_path' | 'page' | 'page_end'>): string {
  const path = h.heading_path[0] === h.title ? h.heading_path.slice(1) : h.heading_path;
  const pages = h.page === null ? '' : `p. ${h.page}${h.page_end !== null && h.page_end !== h.page ? `–${h.page_end}` : ''}`;
  return [path.join(' › '), pages].filter((s) => s !== '').join(', ');
}

export function chunkCandidates(hits: readonly ChunkHit[], cite: boolean): Candidate[] {
  // A document's chunks stay together, the documents ordered by their best chunk.
  const docRank = new Map<string, number>();
  for (const h of hits) if (!docRank.has(h.document_id)) docRank.set(h.document_id, docRank.size);
  return hits.map((h) => ({
    section: 'documents',
    text: chunkLocation(h) === '' ? h.text.trim() : `(${chunkLocation(h)})\n${h.text.trim()}`,
    group: `Document: ${h.title || 'untitled'}`,
    order: (docRank.get(h.document_id) as number) * 1e6 + h.seq,
    score: h.score,
    cite,
    provenance: {
      kind: 'chunk',
      id: `chunk:${h.chunk_id}`,
      collection_id: h.collection_id,
      document_id: h.document_id,
      title: h.title,
      heading_path: h.heading_path,
      page: h.page,
      page_end: h.page_end,
      char_start: h.char_start,
      char_end: h.char_end,
      score: h.score,
      via: h.via,
    },
  }));
}
