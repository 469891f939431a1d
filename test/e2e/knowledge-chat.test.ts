import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { documentSettled, startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Knowledge in chat: the documents stage fills its share of the prompt with the best chunks of the
// tenant's collections, the answer lists them (with [n] markers and a `citations` extension when
// asked), new versions replace old ones atomically, and search takes metadata filters and gives
// highlights. Real Postgres, the real local embedder, the official openai SDK, a fake upstream.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const POLICY = `# Travel policy

## Trains

Trips under four hours go by train, second class.

## Hotels

Hotels are reimbursed up to 150 EUR per night in Europe.

## Refunds

Unused tickets are refunded within 30 days of the trip.
`;

const LUNCH = `# Canteen

The canteen serves lunch from noon to two. Friday is pizza day.
`;

describe('knowledge in chat and context', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;
  let other: Awaited<ReturnType<TestGateway['tenant']>>;
  let col: string;
  let policyId: string;

  beforeAll(async () => {
    up = await startFakeOpenAi(() => ({ kind: 'text', text: 'Up to 150 EUR per night [1].' }));
    gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url }]), embeddings: { threads: 1 }, memory: { episodic: { sweepIntervalMs: 200 } } } });
    t = await gw.tenant('kc');
    other = await gw.tenant('other');
    col = (await gw.call('POST', '/v1/collections', { key: t.key, body: { name: 'Policies', chunking: { target_tokens: 64, overlap_tokens: 0 } } })).body.id;
    const upload = await gw.call('POST', `/v1/collections/${col}/documents`, {
      key: t.key,
      body: { documents: [{ text: POLICY, title: 'Travel policy', external_id: 'travel', metadata: { team: 'finance', year: 2024 } }, { text: LUNCH, title: 'Canteen', metadata: { team: 'facilities', year: 2023 } }] },
    });
    expect(upload.status).toBe(202);
    policyId = upload.body.data[0].id;
    for (const d of upload.body.data) expect((await documentSettled(gw, t.key, d.id)).status).toBe('ready');
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('puts the best chunks into a session prompt, with their provenance in the answer', async () => {
    const res = await t.client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'How much is a hotel night reimbursed?' }], session_id: 'kc-1' } as never)
      .withResponse();
    const answer = res.data as Json;
    const sent = up.requests.at(-1)?.body.messages as Json[];
    const excerpts = sent.find((m) => m.role === 'system' && String(m.content).startsWith('Excerpts from documents'));
    expect(excerpts.content).toContain('Document: Travel policy\n');
    expect(excerpts.content).toContain('(Hotels)\n## Hotels\n\nHotels are reimbursed up to 150 EUR');
    expect(excerpts.content).not.toMatch(/\[\d+\]/);
    const chunks = answer.context.items.filter((i: Json) => i.kind === 'chunk');
    // Items come in prompt order (documents by their best chunk, chunks in reading order); the best is the hotels one.
    const best = chunks.reduce((a: Json, b: Json) => (b.score > a.score ? b : a));
    expect(best).toMatchObject({ section: 'documents', document_id: policyId, title: 'Travel policy', heading_path: ['Travel policy', 'Hotels'], page: null });
    expect(POLICY.slice(best.char_start, best.char_end)).toContain('150 EUR per night');
    expect(answer.usage.context.documents).toBeGreaterThan(0);
    expect(res.response.headers.get('x-context-provenance')).toContain('chunk%3A');
    expect(answer.citations).toBeUndefined();
  });

  it('numbers the excerpts and returns the sources when a request asks for citations (JSON and stream)', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'When are unused tickets refunded?' }], context: { citations: true } };
    const answer = (await t.client.chat.completions.create(body as never)) as Json;
    const sent = up.requests.at(-1)?.body.messages as Json[];
    const excerpts = String(sent.find((m) => m.role === 'system' && String(m.content).startsWith('Excerpts'))?.content);
    expect(excerpts).toContain('cite its marker');
    const refunds = answer.citations.find((c: Json) => c.heading_path.includes('Refunds'));
    expect(refunds).toMatchObject({ document_id: policyId, title: 'Travel policy', collection_id: col });
    expect(excerpts).toContain(`[${refunds.marker}] (Refunds)\n## Refunds`);
    expect(answer.citations.map((c: Json) => c.marker)).toEqual(answer.citations.map((_: Json, i: number) => i + 1));
    expect(POLICY.slice(refunds.char_start, refunds.char_end)).toContain('30 days');

    const stream = await t.client.chat.completions.create({ ...body, stream: true } as never);
    let text = '';
    let citations: Json;
    for await (const chunk of stream as unknown as AsyncIterable<Json>) {
      if (chunk.citations) citations = chunk.citations;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('Up to 150 EUR per night [1].');
    expect(citations).toEqual(answer.citations);
  });

  it('lets a request name collections, turn documents off, and refuses a collection it cannot see', async () => {
    const off = await gw.call('POST', '/v1/context', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: 'hotel night' }], context: { documents: false } } });
    expect(off.body.items).toEqual([]);
    expect(off.body.retrieval.documents).toEqual({ ran: false, reason: 'the request turned documents off', collections: 0, ids: [] });
    const named = await gw.call('POST', '/v1/context', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content: 'hotel night' }], context: { collections: [col] } } });
    expect(named.body.retrieval.documents).toMatchObject({ ran: true, collections: 1 });
    expect(named.body.items.some((i: Json) => i.kind === 'chunk')).toBe(true);
    const foreign = await gw.call('POST', '/v1/context', { key: other.key, body: { model: 'm', messages: [{ role: 'user', content: 'hotel' }], context: { collections: [col] } } });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('collection_not_found');
    // Another tenant's requests never draw on these documents.
    const theirs = await gw.call('POST', '/v1/context', { key: other.key, body: { model: 'm', messages: [{ role: 'user', content: 'hotel night reimbursed' }] } });
    expect(theirs.body.items).toEqual([]);
    expect(theirs.body.retrieval.documents.reason).toBe('no collection with documents');
  });

  it('filters search by document metadata and highlights the matching words', async () => {
    const all = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'lunch pizza hotel', top_k: 10 } });
    expect(new Set(all.body.data.map((h: Json) => h.title))).toEqual(new Set(['Travel policy', 'Canteen']));
    const finance = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'lunch pizza hotel', top_k: 10, filter: { team: 'finance' } } });
    expect(finance.body.data.length).toBeGreaterThan(0);
    expect(finance.body.data.every((h: Json) => h.title === 'Travel policy')).toBe(true);
    const years = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'lunch pizza hotel', top_k: 10, filter: { year: { in: [2023] } } } });
    expect(years.body.data.every((h: Json) => h.title === 'Canteen')).toBe(true);
    const canteen = years.body.data[0];
    expect(canteen.highlights.join(' ')).toContain('**pizza**');
    const bad = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'x', filter: { 'bad key!': 1 } } });
    expect(bad.status).toBe(400);
  });

  it('replaces a document by external id atomically: every search sees the old version or the new one, never both', async () => {
    const v2Text = POLICY.replace(/150 EUR/g, '180 EUR').replace('30 days', '45 days');
    const searches: Array<Set<string>> = [];
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const r = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'hotels reimbursed per night refunded days trains', top_k: 10, filter: { team: 'finance' } } });
        searches.push(new Set(r.body.data.map((h: Json) => h.document_id)));
      }
    })();
    const up2 = await gw.call('POST', `/v1/collections/${col}/documents`, { key: t.key, body: { text: v2Text, title: 'Travel policy', external_id: 'travel', metadata: { team: 'finance', year: 2025 } } });
    expect(up2.body.data[0]).toMatchObject({ created: true, replaces: policyId });
    const v2 = up2.body.data[0].id;
    expect((await documentSettled(gw, t.key, v2)).status).toBe('ready');
    done = true;
    await watcher;
    expect(searches.length).toBeGreaterThan(0);
    for (const seen of searches) expect(seen.size).toBeLessThanOrEqual(1);
    expect((await gw.call('GET', `/v1/documents/${policyId}`, { key: t.key })).status).toBe(404);
    const after = await gw.call('POST', `/v1/collections/${col}/search`, { key: t.key, body: { query: 'hotel per night', top_k: 10 } });
    const texts = after.body.data.map((h: Json) => h.text).join('\n');
    expect(texts).toContain('180 EUR');
    expect(texts).not.toContain('150 EUR');
    // No chunk or vector of the old version is left.
    const { rows } = await gw.gateway.deps.sql.query<{ n: string }>('SELECT count(*)::text AS n FROM chunks WHERE document_id = $1', [policyId]);
    expect(rows[0]?.n).toBe('0');
    policyId = v2;
  });
});
