import { rm } from 'node:fs/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from '../../src/embeddings/factory.js';
import type { Embedder } from '../../src/embeddings/port.js';
import { createTurnIndexer } from '../../src/memory/episodic/indexer.js';
import { createTranscript } from '../../src/memory/transcript.js';
import { toNewTurn } from '../../src/memory/turns.js';
import { migrate } from '../../src/store/migrate.js';
import { createPgSql } from '../../src/store/pg/adapter.js';
import type { Sql } from '../../src/store/sql.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';
import { createMemoryVectorStore } from '../../src/vector/memory/adapter.js';
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/env.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

/** The real embedder, held at a gate: a test decides when a claimed batch may finish embedding. */
function gated(inner: Embedder) {
  let open: () => void = () => {};
  let gate = new Promise<void>((r) => {
    open = r;
  });
  let entered: () => void = () => {};
  const started = new Promise<void>((r) => {
    entered = r;
  });
  const embedder: Embedder = {
    model: inner.model,
    dimensions: inner.dimensions,
    async embed(texts, opts) {
      entered();
      await gate;
      return inner.embed(texts, opts);
    },
    close: () => inner.close(),
  };
  return {
    embedder,
    started,
    release: () => open(),
    reset: () => {
      gate = Promise.resolve();
    },
  };
}

describe('turn indexer', () => {
  const schema = uniqueName('idx');
  let sql: Sql;
  let real: Embedder;
  beforeAll(async () => {
    sql = await createPgSql({ url: TEST_DATABASE_URL, schema, poolSize: 4 });
    await migrate(sql);
    await sql.query("INSERT INTO tenants (id, name) VALUES ('t1', 't1')");
    real = await createEmbedder({ threads: 1 });
  });
  afterAll(async () => {
    await real.close();
    await sql.close();
    await dropSchema(schema);
  });

  it('leaves no vector behind for turns deleted while their batch was being embedded', async () => {
    const tok = getTokenizer('o200k_base');
    const transcript = createTranscript(sql);
    const turns = Array.from({ length: 12 }, (_, i) => toNewTurn({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} about the lighthouse` }, tok));
    await transcript.append('t1', 'doomed', null, turns);
    await transcript.append('t1', 'kept', null, turns.slice(0, 4));

    const vectors = createMemoryVectorStore();
    const g = gated(real);
    const indexer = createTurnIndexer({ sql, embedder: g.embedder, vectors, durable: true, batchSize: 100, sweepIntervalMs: 60_000, log: pino({ level: 'silent' }) });
    indexer.start(); // claims every turn and waits at the gate
    await g.started;
    // The session is deleted mid-batch: SQL rows and (so far nonexistent) vectors.
    await transcript.deleteSession('t1', 'doomed');
    await indexer.forgetSession('t1', 'doomed');
    g.release();
    await indexer.drain();
    g.reset();

    const collection = indexer.collection.name;
    expect(await vectors.count({ collection, tenantId: 't1', filter: { session: 'doomed' } })).toBe(0);
    expect(await vectors.count({ collection, tenantId: 't1', filter: { session: 'kept' } })).toBe(4);
    expect(await indexer.pending('t1', 'kept')).toBe(0);
    await indexer.close();
  });

  it('a model change re-embeds every turn into the new model\'s collection, never into the old one', async () => {
    const log = pino({ level: 'silent' });
    const vectors = createMemoryVectorStore(); // one durable store across both "deployments"
    await sql.query('UPDATE messages SET embedded_model = NULL'); // a store that never saw these turns
    const a = createTurnIndexer({ sql, embedder: real, vectors, durable: true, batchSize: 100, sweepIntervalMs: 60_000, log });
    a.start();
    await a.drain();
    await a.close();
    const before = await vectors.count({ collection: a.collection.name, tenantId: 't1' });
    expect(before).toBeGreaterThan(0);

    const tiny = await writeTinyModel();
    const other = await createEmbedder({ kind: 'transformers', model: tiny.name, modelDir: tiny.dir, threads: 1 });
    try {
      const b = createTurnIndexer({ sql, embedder: other, vectors, durable: true, batchSize: 100, sweepIntervalMs: 60_000, log });
      expect(b.collection.name).not.toBe(a.collection.name);
      b.start();
      await b.drain();
      await b.close();
      expect(await vectors.getCollection({ name: b.collection.name })).toMatchObject({ model: other.model, dimensions: other.dimensions });
      expect(await vectors.count({ collection: b.collection.name, tenantId: 't1' })).toBe(before);
      expect(await vectors.count({ collection: a.collection.name, tenantId: 't1' })).toBe(before);
      const { rows } = await sql.query<{ model: string; n: number }>(
        "SELECT embedded_model AS model, count(*)::int AS n FROM messages WHERE embedded_model <> 'none' GROUP BY 1",
      );
      expect(rows).toEqual([{ model: other.model, n: before }]);
    } finally {
      await other.close();
      await rm(tiny.dir, { recursive: true, force: true });
    }
  });

  it('re-embeds every turn into the store after a restart on a store that forgets (durable: false)', async () => {
    const log = pino({ level: 'silent' });
    const first = createMemoryVectorStore();
    const a = createTurnIndexer({ sql, embedder: real, vectors: first, durable: false, batchSize: 100, sweepIntervalMs: 60_000, log });
    a.start();
    await a.drain();
    await a.close();
    const collection = a.collection.name;
    const before = await first.count({ collection, tenantId: 't1' });
    expect(before).toBeGreaterThan(0);
    // A new process: empty memory store, the same SQL that says "embedded".
    const second = createMemoryVectorStore();
    const b = createTurnIndexer({ sql, embedder: real, vectors: second, durable: false, batchSize: 100, sweepIntervalMs: 60_000, log });
    b.start();
    await b.drain();
    expect(await second.count({ collection, tenantId: 't1' })).toBe(before);
    await b.close();
  });
});
