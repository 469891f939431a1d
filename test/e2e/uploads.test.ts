import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentSettled, startGateway, type TestGateway } from '../helpers/gateway.js';
import { binaryAsTxt, EMPTY, makeDocx, makePdf, makeZipBomb, notAZipDocx, SAMPLE_CSV, SAMPLE_HTML, SAMPLE_JSON, SAMPLE_MD, truncatedPdf } from '../helpers/files.js';

// File upload end to end: multipart through real HTTP, type decided by the bytes, parsed on the
// parser thread, limits refused with the limit and what was sent, one bad file never stopping the
// others, nothing half-ingested, pdf pages carried to chunks, and a crash mid-ingest restarted.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const MAX_FILE_BYTES = 1024 * 1024;

async function upload(gw: TestGateway, key: string, collection: string, files: Array<[name: string, bytes: Buffer | string]>, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const [name, bytes] of files) form.append('file', new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), name);
  const res = await fetch(`${gw.url}/v1/collections/${collection}/documents`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
  return { status: res.status, body: (await res.json()) as Json };
}

/**
 * Accents (2 bytes in UTF-8), a euro sign (3) and emoji (4 bytes, 2 UTF-16 units), uploaded as a file
 * and as JSON: the text goes to SQL as UTF-8 bytes, and `chars` and chunk offsets must still be
 * string offsets into it.
 */
async function expectExactText(gw: TestGateway, key: string, col: string) {
  const text = `# Café notes 😀\n\nThe crème brûlée costs 7 € at Zoë's café.\n\n## Naïve plans 🚀\n\nOrder the smörgåsbord ${'again and '.repeat(40)}on Friday.\n`;
  const asFile = await upload(gw, key, col, [['cafe.md', text]]);
  const asJson = await gw.call('POST', `/v1/collections/${col}/documents`, { key, body: { text, title: 'Café (JSON)' } });
  for (const id of [asFile.body.data[0].id, asJson.body.data[0].id]) {
    const doc = await documentSettled(gw, key, id);
    expect(doc).toMatchObject({ status: 'ready', chars: text.length });
    const res = await gw.call('POST', `/v1/collections/${col}/search`, { key, body: { query: 'smörgåsbord crème brûlée', top_k: 10, mode: 'lexical' } });
    const hits = res.body.data.filter((h: Json) => h.document_id === id);
    expect(hits.length).toBeGreaterThan(0);
    for (const h of hits) expect(text.slice(h.char_start, h.char_end)).toBe(h.text);
    expect(hits.map((h: Json) => h.text).join('')).toContain('7 € at Zoë');
  }
}

describe('file uploads', () => {
  let gw: TestGateway;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;
  let col: string;
  const count = async () => (await gw.call('GET', `/v1/collections/${col}/documents`, { key: t.key })).body.data.length as number;

  beforeAll(async () => {
    gw = await startGateway({
      config: {
        embeddings: { threads: 1 },
        memory: { episodic: { sweepIntervalMs: 200 } },
        knowledge: { upload: { maxFileBytes: MAX_FILE_BYTES, maxFiles: 12, maxPages: 5, maxChars: 50_000, maxUnzippedBytes: 20 * 1024 * 1024 } },
      },
    });
    t = await gw.tenant('uploads');
    col = (await gw.call('POST', '/v1/collections', { key: t.key, body: { name: 'Files', chunking: { target_tokens: 64, overlap_tokens: 0 } } })).body.id;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('ingests every good file of a request, refuses each bad one with its reason, and leaves nothing of the bad ones', async () => {
    // Pages long enough (~90 tokens) that chunks of 64 tokens do not straddle them.
    const filler = (topic: string) => Array.from({ length: 6 }, (_, i) => `Paragraph ${i + 1} about ${topic} continues with ordinary words here.`);
    const pdf = makePdf([['Quarterly report', ...filler('revenue in the north')], ['Risks', 'The warehouse lease ends in March.', ...filler('risks')]], { title: 'Q3' });
    const docx = await makeDocx({ title: 'Handbook', blocks: [{ heading: 'Leave' }, { paragraph: 'Everyone gets 25 days of paid leave.' }, { list: ['Ask your manager', 'Log it in the HR tool'] }, { table: [['Kind', 'Days'], ['Sick', '10']] }] });
    const res = await upload(gw, t.key, col, [
      ['report.pdf', pdf],
      ['handbook.docx', docx],
      ['page.html', SAMPLE_HTML],
      ['onboarding.md', SAMPLE_MD],
      ['people.csv', SAMPLE_CSV],
      ['records.json', SAMPLE_JSON],
      ['cut.pdf', truncatedPdf()],
      ['broken.docx', notAZipDocx()],
      ['empty.txt', EMPTY],
      ['program.txt', binaryAsTxt()],
      ['huge.md', 'x'.repeat(MAX_FILE_BYTES + 10)],
    ]);
    expect(res.status).toBe(202);
    expect(res.body.data.map((d: Json) => [d.file, d.format])).toEqual([
      ['report.pdf', 'pdf'],
      ['handbook.docx', 'docx'],
      ['page.html', 'html'],
      ['onboarding.md', 'markdown'],
      ['people.csv', 'csv'],
      ['records.json', 'json'],
    ]);
    const errors = Object.fromEntries(res.body.errors.map((e: Json) => [e.file, [e.status, e.error.code]]));
    expect(errors).toEqual({
      'cut.pdf': [422, 'unparseable_file'],
      'broken.docx': [422, 'unparseable_file'],
      'empty.txt': [422, 'empty_file'],
      'program.txt': [415, 'unsupported_file_type'],
      'huge.md': [413, 'file_too_large'],
    });
    for (const e of res.body.errors) expect(e.error.message).toContain(e.file);
    expect(res.body.errors.find((e: Json) => e.file === 'huge.md').error.message).toContain(String(MAX_FILE_BYTES));
    // Only the good files became documents.
    expect(await count()).toBe(6);

    const docs = await Promise.all(res.body.data.map((d: Json) => documentSettled(gw, t.key, d.id)));
    for (const d of docs) expect(d).toMatchObject({ status: 'ready', error: null });
    const report = docs[0];
    expect(report).toMatchObject({ filename: 'report.pdf', title: 'report.pdf', page_count: 2, bytes: pdf.length });

    const hit = (await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'When does the warehouse lease end?', top_k: 1 } })).body.data[0];
    expect(hit).toMatchObject({ document_id: report.id, page: 2, page_end: 2 });
    expect(hit.text).toContain('warehouse lease ends in March');
    const leave = (await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'how many days of paid leave', top_k: 1 } })).body.data[0];
    expect(leave).toMatchObject({ title: 'handbook.docx', heading_path: ['Leave'] });
    const html = (await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'window secret', top_k: 10, mode: 'lexical' } })).body.data;
    expect(html.map((h: Json) => h.text).join(' ')).not.toContain('do not index');
  });

  it('keeps text outside ASCII exact, as a file and as JSON, with offsets counted as JavaScript strings count', async () => {
    await expectExactText(gw, t.key, col);
  });

  it('decides the type by the bytes, not the name, and treats the same bytes as the same document', async () => {
    const pdf = makePdf([['A pdf that pretends to be text.']]);
    const first = await upload(gw, t.key, col, [['notes.txt', pdf]]);
    expect(first.body.data[0]).toMatchObject({ format: 'pdf', created: true });
    const again = await upload(gw, t.key, col, [['other-name.pdf', pdf]]);
    expect(again.status).toBe(202);
    expect(again.body.data[0]).toMatchObject({ id: first.body.data[0].id, created: false });
  });

  it('fails a request whose every file is refused with that status, and refuses limits with what was sent', async () => {
    const before = await count();
    const one = await upload(gw, t.key, col, [['a.txt', binaryAsTxt()]]);
    expect(one.status).toBe(415);
    expect(one.body.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_file_type', param: 'file' });
    const pages = await upload(gw, t.key, col, [['long.pdf', makePdf([['1'], ['2'], ['3'], ['4'], ['5'], ['6']])]]);
    expect(pages.status).toBe(413);
    expect(pages.body.error.code).toBe('too_many_pages');
    expect(pages.body.error.message).toMatch(/6 pages.*5/);
    const chars = await upload(gw, t.key, col, [['long.md', `# Big\n\n${'word '.repeat(11_000)}`]]);
    expect(chars.status).toBe(413);
    expect(chars.body.error.code).toBe('too_many_characters');
    expect(chars.body.error.message).toMatch(/55,?0\d\d.*50,?000/);
    const bomb = await upload(gw, t.key, col, [['bomb.docx', await makeZipBomb()]]);
    expect(bomb.status).toBe(413);
    expect(bomb.body.error.code).toBe('zip_bomb');
    const mixed = await upload(gw, t.key, col, [['x.txt', binaryAsTxt()], ['e.md', EMPTY]]);
    expect(mixed.status).toBe(422);
    expect(mixed.body.error.code).toBe('files_refused');
    expect(mixed.body.errors).toHaveLength(2);

    const many = await upload(gw, t.key, col, Array.from({ length: 13 }, (_, i): [string, string] => [`n${i}.md`, `# Note ${i}\n\nText ${i}.`]));
    expect(many.status).toBe(413);
    expect(many.body.error).toMatchObject({ code: 'too_many_files' });
    expect(many.body.error.message).toContain('12');
    expect(await count()).toBe(before);
  });

  it('refuses bad form fields with a 400 that names them, before anything is stored', async () => {
    const before = await count();
    const meta = await upload(gw, t.key, col, [['m.md', '# M\n\nmeta']], { metadata: '[1,2]' });
    expect(meta.status).toBe(400);
    expect(meta.body.error.param).toBe('metadata');
    const title = await upload(gw, t.key, col, [['a.md', '# A'], ['b.md', '# B']], { title: 'One title' });
    expect(title.status).toBe(400);
    expect(title.body.error.param).toBe('title');
    const unknown = await upload(gw, t.key, col, [['a.md', '# A']], { colour: 'red' });
    expect(unknown.status).toBe(400);
    const noFiles = await upload(gw, t.key, col, [], { title: 'x' });
    expect(noFiles.status).toBe(400);
    expect(noFiles.body.error.code).toBe('no_files');
    const missing = await upload(gw, t.key, 'col_missing', [['a.md', '# A']]);
    expect(missing.status).toBe(404);
    expect(await count()).toBe(before);
  });

  it('restarts a document whose ingestion died midway: it is never ready with chunks missing', async () => {
    const text = `# Runbook\n\n${Array.from({ length: 12 }, (_, i) => `## Step ${i + 1}\n\nRun check number ${i + 1} and write down the result.`).join('\n\n')}\n`;
    const res = await upload(gw, t.key, col, [['runbook.md', text]], { external_id: 'runbook', metadata: '{"team":"ops"}' });
    const doc = await documentSettled(gw, t.key, res.body.data[0].id);
    expect(doc.metadata).toEqual({ team: 'ops' });
    const full = doc.chunk_count as number;
    expect(full).toBeGreaterThan(3);
    // What a crash leaves: half the chunks written, the document mid-embedding, its claim expired.
    const { sql } = gw.gateway.deps;
    await sql.query('DELETE FROM chunks WHERE document_id = $1 AND seq > 2', [doc.id]);
    await sql.query("UPDATE documents SET status = 'embedding', claimed_until = now() - interval '1 second' WHERE id = $1", [doc.id]);
    const during = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'Run check number 1', top_k: 5, filter: { team: 'ops' } } });
    expect(during.body.data).toEqual([]);
    gw.gateway.deps.ingestor.notify();
    const again = await documentSettled(gw, t.key, doc.id);
    expect(again.chunk_count).toBe(full);
    const { rows } = await sql.query<{ n: string }>('SELECT count(*)::text AS n FROM chunks WHERE document_id = $1', [doc.id]);
    expect(Number(rows[0]?.n)).toBe(full);
  });
});

describe('file uploads on PGlite', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({ sql: 'pglite', redis: false, config: { embeddings: { threads: 1 }, memory: { episodic: { sweepIntervalMs: 200 } } } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('keeps text outside ASCII exact there too', async () => {
    const t = await gw.tenant('uploads');
    const col = (await gw.call('POST', '/v1/collections', { key: t.key, body: { name: 'Files', chunking: { target_tokens: 64, overlap_tokens: 0 } } })).body.id;
    await expectExactText(gw, t.key, col);
  });
});
