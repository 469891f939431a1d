import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingPassages } from '../../src/knowledge/chunk-vectors.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';
import { documentSettled, startGateway, type TestGateway } from '../helpers/gateway.js';

// Documents as JSON through HTTP on real Postgres, ingested by the real worker with the real local
// embedder: 202 + status polling, chunks with heading paths and offsets, hybrid search, idempotent
// re-upload, deletion of documents and collections (SQL and vectors), tenant isolation.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const HANDBOOK = `# Handbook

## Travel

Book trains for trips under four hours. Flights need a manager's approval.

## Expenses

Hotels are reimbursed up to 150 EUR per night. Meals up to 40 EUR per day.

## Security

Badges must be worn at all times. Report a lost badge to reception within a day.
`;

describe('documents: upload, ingestion, search, deletion', () => {
  let gw: TestGateway;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  let col: string;
  beforeAll(async () => {
    gw = await startGateway({ config: { embeddings: { threads: 1 }, memory: { episodic: { sweepIntervalMs: 200 } } } });
    a = await gw.tenant('a');
    b = await gw.tenant('b');
    col = (await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Policies', chunking: { target_tokens: 64, overlap_tokens: 0 } } })).body.id;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers 202 at once, ingests off the request path, and finds the right chunk with its heading path and offsets', async () => {
    const up = await gw.call('POST', `/v1/collections/${col}/documents`, { key: a.key, body: { text: HANDBOOK, title: 'Handbook', metadata: { team: 'hr' } } });
    expect(up.status).toBe(202);
    const [doc] = up.body.data;
    expect(doc).toMatchObject({ object: 'document', collection_id: col, title: 'Handbook', created: true, chars: HANDBOOK.length, metadata: { team: 'hr' } });
    expect(['queued', 'parsing', 'embedding', 'ready']).toContain(doc.status);
    const done = await documentSettled(gw, a.key, doc.id);
    expect(done).toMatchObject({ status: 'ready', error: null, chunk_count: 4 });

    const res = await gw.call('POST', `/v1/collections/${col}/search`, { key: a.key, body: { query: 'How much can I spend on a hotel?', top_k: 2 } });
    expect(res.status).toBe(200);
    const [top] = res.body.data;
    expect(top).toMatchObject({ document_id: doc.id, title: 'Handbook', heading_path: ['Handbook', 'Expenses'] });
    expect(top.text).toContain('150 EUR per night');
    expect(HANDBOOK.slice(top.char_start, top.char_end)).toBe(top.text);
    // A query that shares no word with the text still finds it by meaning.
    const semantic = await gw.call('POST', `/v1/collections/${col}/search`, { key: a.key, body: { query: 'identification card misplaced', top_k: 1 } });
    expect(semantic.body.data[0].heading_path).toEqual(['Handbook', 'Security']);
  });

  it('embeds a chunk as passages: one point per passage, and a search returns the chunk once, found by its best passage', async () => {
    const notes = ['# Office notes', 'The printer on the second floor jams when the paper tray is overfilled.', 'Visitors sign in at reception and wear a guest badge all day.', 'The rooftop garden opens at noon in summer and closes at dusk.', 'Bicycles go in the basement rack; the code changes every month.'].join('\n\n');
    const c3 = await gw.tenant('passages');
    const counts: number[] = [];
    for (const passage_tokens of [20, 0]) {
      const c = (await gw.call('POST', '/v1/collections', { key: c3.key, body: { name: `Notes ${passage_tokens}`, chunking: { target_tokens: 256, overlap_tokens: 0, passage_tokens } } })).body.id;
      const up = await gw.call('POST', `/v1/collections/${c}/documents`, { key: c3.key, body: { text: notes, title: 'Notes' } });
      const done = await documentSettled(gw, c3.key, up.body.data[0].id);
      expect(done).toMatchObject({ status: 'ready', chunk_count: 1 });
      counts.push(await vectorCount(gw, c3.id, gw.gateway.deps.documents.spec.name, { document: done.id }));
      const res = await gw.call('POST', `/v1/collections/${c}/search`, { key: c3.key, body: { query: 'where do I park my bike', mode: 'vector', top_k: 5 } });
      expect(res.body.data).toHaveLength(1);
      expect(res.body.data[0]).toMatchObject({ document_id: done.id, via: 'vector' });
      expect(res.body.data[0].chunk_id).toMatch(/^\d+$/);
    }
    // 20 tokens hold the heading (2) with the first paragraph (15), then one paragraph (13–15) each: four passages.
    expect(counts).toEqual([4, 1]);
  });

  it('treats the same text uploaded again as the same document', async () => {
    const first = await gw.call('POST', `/v1/collections/${col}/documents`, { key: a.key, body: { documents: [{ text: 'Tiny note about parking.' }] } });
    const again = await gw.call('POST', `/v1/collections/${col}/documents`, { key: a.key, body: { documents: [{ text: 'Tiny note about parking.' }] } });
    expect(again.body.data[0]).toMatchObject({ id: first.body.data[0].id, created: false });
    const list = await gw.call('GET', `/v1/collections/${col}/documents`, { key: a.key });
    expect(list.body.data.filter((d: Json) => d.id === first.body.data[0].id)).toHaveLength(1);
  });

  it('refuses bad uploads and searches with a 400 naming the field, and unknown collections with 404', async () => {
    for (const [body, param] of [
      [{ text: '' }, 'text'],
      [{ title: 'no text' }, 'text'],
      [{ text: 'x', format: 'pdf' }, 'format'],
      [{ documents: [] }, 'documents'],
    ] as Array<[unknown, string]>) {
      const res = await gw.call('POST', `/v1/collections/${col}/documents`, { key: a.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
      expect(JSON.stringify(res.body.error)).toContain(param);
    }
    expect((await gw.call('POST', `/v1/collections/${col}/search`, { key: a.key, body: { query: ' ' } })).body.error.param).toBe('query');
    expect((await gw.call('POST', '/v1/collections/col_nope/documents', { key: a.key, body: { text: 'x' } })).status).toBe(404);
    // Postgres cannot store a NUL character: the client hears why (400), and nothing is stored.
    const before = (await gw.call('GET', `/v1/collections/${col}/documents`, { key: a.key })).body.data.length;
    for (const body of [{ text: 'a\u0000b', title: 'nul in text' }, { text: 'fine', title: 'nul in metadata', metadata: { note: 'a\u0000b' } }]) {
      const res = await gw.call('POST', `/v1/collections/${col}/documents`, { key: a.key, body });
      expect(res.status, body.title).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_characters' });
    }
    expect((await gw.call('GET', `/v1/collections/${col}/documents`, { key: a.key })).body.data.length).toBe(before);
  });

  it('keeps tenants apart: another tenant can neither read, search nor delete the documents', async () => {
    const doc = (await gw.call('GET', `/v1/collections/${col}/documents`, { key: a.key })).body.data[0];
    expect((await gw.call('GET', `/v1/documents/${doc.id}`, { key: b.key })).status).toBe(404);
    expect((await gw.call('DELETE', `/v1/documents/${doc.id}`, { key: b.key })).status).toBe(404);
    expect((await gw.call('POST', `/v1/collections/${col}/search`, { key: b.key, body: { query: 'hotel' } })).status).toBe(404);
  });

  it('searches across the collections the key sees, or those the request names', async () => {
    const second = (await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Facilities' } })).body.id;
    const up = await gw.call('POST', `/v1/collections/${second}/documents`, { key: a.key, body: { text: '# Hotel partners\n\nOur partner hotel near the office is the Grand Central.', title: 'Partners' } });
    await documentSettled(gw, a.key, up.body.data[0].id);

    const all = await gw.call('POST', '/v1/search', { key: a.key, body: { query: 'hotel', top_k: 10 } });
    expect(all.status).toBe(200);
    expect(new Set(all.body.data.map((h: Json) => h.collection_id))).toEqual(new Set([col, second]));
    const named = await gw.call('POST', '/v1/search', { key: a.key, body: { query: 'hotel', collections: [second] } });
    expect(named.body.data.length).toBeGreaterThan(0);
    expect(named.body.data.every((h: Json) => h.collection_id === second)).toBe(true);
    expect((await gw.call('POST', '/v1/search', { key: a.key, body: { query: 'hotel', collections: ['col_nope'] } })).status).toBe(404);
    // Another tenant sees none of it, and may not name it.
    expect((await gw.call('POST', '/v1/search', { key: b.key, body: { query: 'hotel' } })).body.data).toEqual([]);
    expect((await gw.call('POST', '/v1/search', { key: b.key, body: { query: 'hotel', collections: [second] } })).status).toBe(404);
    // A key limited to one collection searches only that one.
    const limited = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: a.id, scopes: [`collection:${second}`] })).body.key;
    const mine = await gw.call('POST', '/v1/search', { key: limited, body: { query: 'hotel', top_k: 10 } });
    expect(mine.body.collections).toEqual([second]);
    expect(mine.body.data.every((h: Json) => h.collection_id === second)).toBe(true);
    // The other collection is a 404 to that key, though its search (run alongside the lookup) finds something.
    const hidden = await gw.call('POST', `/v1/collections/${col}/search`, { key: limited, body: { query: 'hotel' } });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('collection_not_found');
    expect(hidden.body.data).toBeUndefined();
    expect((await gw.call('POST', `/v1/collections/${second}/search`, { key: limited, body: { query: 'hotel' } })).body.data.length).toBeGreaterThan(0);
  });

  it('writes a long document in several statements, each chunk with its own offsets, sequence and vector', async () => {
    // ~270 chunks of 64 tokens: more than one INSERT batch (250), chunked on the parser thread.
    const lines = Array.from({ length: 270 }, (_, i) => `## Room ${i + 1}\n\nRoom ${i + 1} of the east wing keeps the ${i % 2 ? 'winter' : 'summer'} archive number ${1000 + i}, ${'shelved by year and then by name, '.repeat(3)}checked every month.`);
    const text = `# Archive\n\n${lines.join('\n\n')}\n`;
    const long = (await gw.call('POST', '/v1/collections', { key: a.key, body: { name: 'Archive', chunking: { target_tokens: 64, overlap_tokens: 0, passage_tokens: 0 } } })).body.id;
    const up = await gw.call('POST', `/v1/collections/${long}/documents`, { key: a.key, body: { text, title: 'Archive' } });
    const doc = await documentSettled(gw, a.key, up.body.data[0].id, 60_000);
    expect(doc.status).toBe('ready');
    expect(doc.chunk_count).toBeGreaterThan(250);
    const { sql, embedder, docVectors, documents } = gw.gateway.deps;
    const { rows } = await sql.query<{ id: string; seq: number; text: string; heading_path: string[]; char_start: number; char_end: number }>(
      'SELECT id::text AS id, seq, text, heading_path, char_start, char_end FROM chunks WHERE document_id = $1 ORDER BY seq',
      [doc.id],
    );
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: doc.chunk_count }, (_, i) => i + 1));
    for (const r of rows) expect(text.slice(r.char_start, r.char_end)).toBe(r.text);
    expect(await vectorCount(gw, a.id, documents.spec.name, { document: doc.id })).toBe(doc.chunk_count);
    // Each chunk's point is named after its own row, in the first statement and in the last: the
    // nearest point to a chunk's own passage vector is that chunk's.
    for (const r of [rows[0], rows[260], rows.at(-1)]) {
      const [passage] = embeddingPassages({ text: r!.text, headingPath: r!.heading_path }, getTokenizer('o200k_base'), 0);
      const [vector] = await embedder.embed([passage!], { kind: 'document' });
      const [nearest] = await docVectors.search({ collection: documents.spec.name, tenantId: a.id, vector: vector!, topK: 1, filter: { document: doc.id } });
      expect(nearest?.payload).toMatchObject({ chunk: r!.id, seq: r!.seq });
    }
  });

  it('deleting a document, then its collection, removes chunks from SQL and vectors from the store', async () => {
    const store = gw.gateway.deps.documents;
    const other = await gw.call('POST', `/v1/collections/${col}/documents`, { key: a.key, body: { text: '# Kitchen\n\nThe coffee machine is descaled on Fridays.', title: 'Kitchen' } });
    const kitchen = await documentSettled(gw, a.key, other.body.data[0].id);
    const count = async (sqlText: string, params: unknown[]) => (await gw.gateway.deps.sql.query<{ n: number }>(sqlText, params as never)).rows[0]?.n;
    expect(await count('SELECT count(*)::int AS n FROM chunks WHERE document_id = $1', [kitchen.id])).toBeGreaterThan(0);

    expect((await gw.call('DELETE', `/v1/documents/${kitchen.id}`, { key: a.key })).status).toBe(200);
    expect(await count('SELECT count(*)::int AS n FROM chunks WHERE document_id = $1', [kitchen.id])).toBe(0);
    const spec = store.spec.name;
    const vec = await vectorCount(gw, a.id, spec, { document: kitchen.id });
    expect(vec).toBe(0);
    const search = await gw.call('POST', `/v1/collections/${col}/search`, { key: a.key, body: { query: 'coffee machine descaled' } });
    expect(search.body.data.some((h: Json) => h.document_id === kitchen.id)).toBe(false);

    expect(await vectorCount(gw, a.id, spec, { collection: col })).toBeGreaterThan(0);
    expect((await gw.call('DELETE', `/v1/collections/${col}`, { key: a.key })).status).toBe(200);
    expect(await count('SELECT count(*)::int AS n FROM chunks WHERE collection_id = $1', [col])).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM documents WHERE collection_id = $1', [col])).toBe(0);
    expect(await vectorCount(gw, a.id, spec, { collection: col })).toBe(0);
  });
});

/** Vectors of the documents store, read through the store the gateway built. */
async function vectorCount(gw: TestGateway, tenantId: string, collection: string, filter: Record<string, string>): Promise<number> {
  return gw.gateway.deps.docVectors.count({ collection, tenantId, filter });
}
