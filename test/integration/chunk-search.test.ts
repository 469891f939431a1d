import { describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embeddings/port.js';
import { createChunkSearch } from '../../src/knowledge/search.js';
import { createPgliteSql } from '../../src/store/pglite/adapter.js';
import { migrate } from '../../src/store/migrate.js';
import { createMemoryVectorStore } from '../../src/vector/memory/adapter.js';
import type { VectorStore } from '../../src/vector/port.js';

// How many candidates a hybrid search asks each retriever for: three per hit wanted, between 24 and
// 50 chunks (each chunk fetched as up to 3 passages from the vector store), and more under a filter.

describe('chunk search candidates', () => {
  it('asks the vector store for 3 passages per candidate, and the candidates follow top_k within 24–50', async () => {
    const sql = await createPgliteSql({ dataDir: undefined, schema: 'public' });
    try {
      await migrate(sql);
      await sql.exec(`
        INSERT INTO tenants (id, name) VALUES ('t1', 't1');
        INSERT INTO collections (tenant_id, id, name, embedding_model, chunking) VALUES ('t1', 'c1', 'one', 'm', '{}');
        INSERT INTO documents (tenant_id, id, collection_id, content_hash, format, status, text, chars, chunk_count, metadata)
        VALUES ('t1', 'd1', 'c1', 'h1', 'markdown', 'ready', '', 0, 1, '{"team":"hr"}');
        INSERT INTO chunks (tenant_id, collection_id, document_id, seq, text, char_start, char_end, token_count)
        VALUES ('t1', 'c1', 'd1', 1, 'Caroline painted a sunrise by the lake.', 0, 39, 9);`);
      const memory = createMemoryVectorStore();
      const asked: number[] = [];
      const vectors: VectorStore = {
        ...memory,
        search: (q) => {
          asked.push(q.topK);
          return memory.search(q);
        },
      };
      const embedder: Embedder = { model: 'fake', dimensions: 2, embed: async (texts) => texts.map(() => Float32Array.of(1, 0)), close: async () => {} };
      await memory.ensureCollection({ name: 'chunks', dimensions: 2, metric: 'cosine', model: 'fake', indexedKeys: ['collection', 'document'] });
      const search = createChunkSearch({ sql, vectors, embedder, collection: 'chunks', lexicalWeight: 0.7 });

      const hits = await search.search('t1', ['c1'], 'who painted the lake', { topK: 8 });
      expect(hits.map((h) => h.text)).toEqual(['Caroline painted a sunrise by the lake.']);
      await search.search('t1', ['c1'], 'lake', { topK: 1 });
      await search.search('t1', ['c1'], 'lake', { topK: 12 });
      await search.search('t1', ['c1'], 'lake', { topK: 40 });
      await search.search('t1', ['c1'], 'lake', { topK: 8, filter: { team: 'hr' } });
      // top_k 8 → 24 chunks, 1 → 24 (the floor), 12 → 36, 40 → 50 (the ceiling); a filter takes 200.
      expect(asked).toEqual([72, 72, 108, 150, 600]);
    } finally {
      await sql.close();
    }
  });
});
