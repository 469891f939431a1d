import type { Embedder } from '../../embeddings/port.js';
import type { Chunking } from '../../knowledge/collections.js';
import { chunkCollection, writeChunkVectors } from '../../knowledge/chunk-vectors.js';
import { getTokenizer } from '../../tokens/tokenizer.js';
import type { VectorStore } from '../../vector/port.js';
import { emptyCollection, type PartOutcome, type PartScope } from './scope.js';

/** Documents read per query. */
const DOC_PAGE = 100;

interface ReadyDocument {
  tenant_id: string;
  id: string;
  collection_id: string;
  chunking: Chunking;
}

const SCOPE = "d.status = 'ready' AND ($1::text IS NULL OR d.tenant_id = $1)";
const DOC_COLUMNS =
  'd.tenant_id, d.id, d.collection_id, c.chunking FROM documents d JOIN collections c ON c.tenant_id = d.tenant_id AND c.id = d.collection_id';

/**
 * Document chunk vectors: the collection is emptied, then every chunk of every ready document is
 * embedded again from SQL, document by document, by the ingestor's own writer. Documents that became
 * ready meanwhile are done again at the end: their ingestion may have written vectors before the
 * collection was emptied.
 */
export async function reembedChunks(deps: { embedder: Embedder; vectors: VectorStore }, scope: PartScope): Promise<PartOutcome> {
  const { sql, tenantId } = scope;
  const writer = { embedder: deps.embedder, vectors: deps.vectors, spec: chunkCollection(deps.embedder), tokenizer: getTokenizer('o200k_base') };
  const { rows: clock } = await sql.query<{ now: string }>('SELECT now()::text AS now');
  const started = clock[0]?.now as string;
  await emptyCollection(deps.vectors, writer.spec, tenantId);
  const { rows: counted } = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM chunks k JOIN documents d ON d.tenant_id = k.tenant_id AND d.id = k.document_id WHERE ${SCOPE}`,
    [tenantId ?? null],
  );
  let total = counted[0]?.n ?? 0;
  let chunks = 0;
  let points = 0;
  const written = new Set<string>();
  scope.progress(0, total);

  /** Rewrites one document's vectors; a `late` one was not counted in the total. */
  async function rewrite(doc: ReadyDocument, late = false): Promise<void> {
    const { rows } = await sql.query<{ id: string; seq: number; text: string; heading_path: string[] }>(
      'SELECT id::text AS id, seq, text, heading_path FROM chunks WHERE tenant_id = $1 AND document_id = $2 ORDER BY seq',
      [doc.tenant_id, doc.id],
    );
    if (late) total += rows.length;
    const before = chunks;
    points += await writeChunkVectors(
      writer,
      { tenantId: doc.tenant_id, id: doc.id, collectionId: doc.collection_id, passageTokens: doc.chunking.passage_tokens ?? 0 },
      rows.map((r) => ({ id: r.id, seq: r.seq, text: r.text, headingPath: r.heading_path })),
      (n) => scope.progress(before + n, total),
    );
    chunks = before + rows.length;
    written.add(`${doc.tenant_id}\u0000${doc.id}`);
    // Deleted or replaced by a new version meanwhile: take back what was written, as the ingestor does.
    const { rows: alive } = await sql.query('SELECT 1 FROM documents WHERE tenant_id = $1 AND id = $2', [doc.tenant_id, doc.id]);
    if (alive.length === 0) await deps.vectors.deleteByFilter({ collection: writer.spec.name, tenantId: doc.tenant_id, filter: { document: doc.id } });
  }

  for (let after = { tenant: '', id: '' }; ; ) {
    const { rows } = await sql.query<ReadyDocument>(
      `SELECT ${DOC_COLUMNS} WHERE ${SCOPE} AND (d.tenant_id, d.id) > ($2, $3) ORDER BY d.tenant_id, d.id LIMIT ${DOC_PAGE}`,
      [tenantId ?? null, after.tenant, after.id],
    );
    for (const doc of rows) await rewrite(doc);
    const last = rows[rows.length - 1];
    if (!last) break;
    after = { tenant: last.tenant_id, id: last.id };
  }
  const { rows: late } = await sql.query<ReadyDocument>(`SELECT ${DOC_COLUMNS} WHERE ${SCOPE} AND d.updated_at >= $2::timestamptz`, [
    tenantId ?? null,
    started,
  ]);
  for (const doc of late) if (!written.has(`${doc.tenant_id}\u0000${doc.id}`)) await rewrite(doc, true);
  scope.progress(chunks, total);
  return { count: chunks, detail: `chunks of ${written.size} ready documents re-embedded (${points} passage vectors)` };
}
