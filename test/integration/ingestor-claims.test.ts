import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embeddings/port.js';
import { chunkCollection } from '../../src/knowledge/chunk-vectors.js';
import { createIngestor } from '../../src/knowledge/ingestor.js';
import { migrate } from '../../src/store/migrate.js';
import { createMemoryVectorStore } from '../../src/vector/memory/adapter.js';
import { sqlAdapters } from '../helpers/sql-adapters.js';

// Two ingestors on one database (two processes, say) and a document that embeds for longer than a
// claim lasts: the run that claimed it renews its claim, so the other never takes it over, and
// every passage is embedded once.

describe.each(sqlAdapters())('ingestor claims on %s', (_name, open) => {
  it('renews its claim while a long document embeds, so a second ingestor never starts it over', async () => {
    const sql = await open();
    const ingestors: Array<ReturnType<typeof createIngestor>> = [];
    try {
      await migrate(sql);
      const text = `# Log\n\n${Array.from({ length: 60 }, (_, i) => `## Entry ${i + 1}\n\nEntry ${i + 1} records the pump pressure at station ${i + 1}.`).join('\n\n')}\n`;
      await sql.query("INSERT INTO tenants (id, name) VALUES ('t1', 't1')");
      await sql.query("INSERT INTO collections (tenant_id, id, name, embedding_model, chunking) VALUES ('t1', 'c1', 'log', 'fake', $1)", [
        JSON.stringify({ target_tokens: 64, overlap_tokens: 0, passage_tokens: 0 }),
      ]);
      await sql.query(
        "INSERT INTO documents (tenant_id, id, collection_id, content_hash, format, status, text, chars, metadata) VALUES ('t1', 'd1', 'c1', 'h1', 'markdown', 'queued', $1, $2, '{}')",
        [text, text.length],
      );
      // A slow model: 250 ms per call of at most 32 passages, so the document embeds for longer than the 300 ms claim.
      let embedded = 0;
      const embedder: Embedder = {
        model: 'fake',
        dimensions: 2,
        embed: async (texts) => {
          await new Promise((r) => setTimeout(r, 250));
          embedded += texts.length;
          return texts.map(() => Float32Array.of(1, 0));
        },
        close: async () => {},
      };
      const vectors = createMemoryVectorStore();
      const spec = chunkCollection(embedder);
      for (let i = 0; i < 2; i++) {
        const ingestor = createIngestor({ sql, embedder, vectors, durable: true, spec, sweepIntervalMs: 50, log: pino({ level: 'silent' }), claimMs: 300 });
        ingestors.push(ingestor);
        ingestor.start();
      }
      const until = Date.now() + 30_000;
      let doc: { status: string; chunk_count: number } | undefined;
      const seen = new Set<string>();
      do {
        await new Promise((r) => setTimeout(r, 50));
        doc = (await sql.query<{ status: string; chunk_count: number }>("SELECT status, chunk_count FROM documents WHERE id = 'd1'")).rows[0];
        if (doc) seen.add(doc.status);
      } while (doc?.status !== 'ready' && Date.now() < until);
      expect(doc?.status).toBe('ready');
      expect(seen.has('embedding')).toBe(true);
      const chunks = (await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM chunks WHERE document_id = 'd1'")).rows[0]?.n ?? 0;
      expect(chunks).toBeGreaterThan(32);
      expect(doc?.chunk_count).toBe(chunks);
      // Each chunk is one passage here: embedded once each, by the one run that held the claim.
      expect(embedded).toBe(chunks);
      expect(await vectors.count({ collection: spec.name, tenantId: 't1', filter: { document: 'd1' } })).toBe(chunks);
    } finally {
      await Promise.all(ingestors.map((i) => i.close()));
      await sql.close();
    }
  });
});
