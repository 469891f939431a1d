import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, type RecordedRequest, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Long-term fact memory through HTTP on real Postgres and Redis (BullMQ): the memory API (add, list,
// correct, history, search, delete, forget a user — SQL and vectors), the facts section of a prompt,
// and extraction from turns with a scripted local model speaking OpenAI's structured-output wire
// format: a user moves city, changes job, renames a pet, states a fact twice, corrects a date.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

describe('memory API', () => {
  let gw: TestGateway;
  let t: { id: string; key: string };
  let other: { id: string; key: string };
  beforeAll(async () => {
    // /v1/context needs a model alias; it never calls the upstream.
    gw = await startGateway({ config: { ...upstreamConfig([{ name: 'up', baseUrl: 'http://127.0.0.1:9' }]), embeddings: { threads: 1 } } });
    t = await gw.tenant('mem');
    other = await gw.tenant('other');
  });
  afterAll(async () => {
    await gw?.close();
  });

  const add = (user: string, text: string, extra: Json = {}) => gw.call('POST', '/v1/memories', { key: t.key, body: { user, text, ...extra } });

  it('adds a fact, lists it, finds it by meaning, corrects it and keeps its history', async () => {
    const created = await add('ada', 'Ada is allergic to peanuts.', { category: 'fact' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'memory', user_id: 'ada', text: 'Ada is allergic to peanuts.', category: 'fact', source: 'api', current: true, valid_to: null });
    await add('ada', 'Ada plays the cello in an amateur orchestra.', { category: 'preference' });
    await add('ada', 'Ada visits her grandmother in Porto every August.', { category: 'event', event_at: '2024-08-01' });

    const list = await gw.call('GET', '/v1/memories?user=ada', { key: t.key });
    expect(list.body.data.map((m: Json) => m.text)).toHaveLength(3);
    await add('ada', 'Ada wants the kitchen tiles in green.', { session_id: 'kitchen' });
    const scoped = await gw.call('GET', '/v1/memories?user=ada&session_id=kitchen', { key: t.key });
    expect(scoped.body.data.map((m: Json) => [m.text, m.session_id])).toEqual([['Ada wants the kitchen tiles in green.', 'kitchen']]);
    const page = await gw.call('GET', '/v1/memories?user=ada&limit=2', { key: t.key });
    const rest = await gw.call('GET', `/v1/memories?user=ada&limit=10&after=${page.body.data[1].id}`, { key: t.key });
    expect([...page.body.data, ...rest.body.data].map((m: Json) => m.id).sort()).toEqual(
      (await gw.call('GET', '/v1/memories?user=ada', { key: t.key })).body.data.map((m: Json) => m.id).sort(),
    );
    const found = await gw.call('POST', '/v1/memories/search', { key: t.key, body: { user: 'ada', query: 'what food should Ada avoid?', top_k: 3 } });
    expect(found.body.data[0]).toMatchObject({ id: created.body.id });
    expect(found.body.data[0].score).toBeGreaterThan(found.body.data[2].score);

    const patched = await gw.call('PATCH', `/v1/memories/${created.body.id}`, { key: t.key, body: { text: 'Ada is allergic to peanuts and cashews.' } });
    expect(patched.body).toMatchObject({ text: 'Ada is allergic to peanuts and cashews.', current: true });
    const history = await gw.call('GET', `/v1/memories/${created.body.id}/history`, { key: t.key });
    expect(history.body.data.map((e: Json) => [e.event, e.text, e.previous_text, e.actor])).toEqual([
      ['add', 'Ada is allergic to peanuts.', null, 'api'],
      ['update', 'Ada is allergic to peanuts and cashews.', 'Ada is allergic to peanuts.', 'api'],
    ]);
    const again = await gw.call('POST', '/v1/memories/search', { key: t.key, body: { user: 'ada', query: 'cashew allergy', top_k: 1 } });
    expect(again.body.data[0].text).toBe('Ada is allergic to peanuts and cashews.');
  });

  it('refuses bad input with a 400 naming the field, and keeps tenants apart', async () => {
    for (const [body, param] of [
      [{ text: 'x' }, 'user'],
      [{ user: 'ada', text: '  ' }, 'text'],
      [{ user: 'ada', text: 'x', category: 'gossip' }, 'category'],
      [{ user: 'ada', text: 'x', event_at: 'soon' }, 'event_at'],
    ] as const) {
      const res = await gw.call('POST', '/v1/memories', { key: t.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    const id = (await gw.call('GET', '/v1/memories?user=ada', { key: t.key })).body.data[0].id;
    expect((await gw.call('PATCH', `/v1/memories/${id}`, { key: t.key, body: {} })).status).toBe(400);
    for (const [method, path] of [
      ['GET', `/v1/memories/${id}`],
      ['PATCH', `/v1/memories/${id}`],
      ['GET', `/v1/memories/${id}/history`],
      ['DELETE', `/v1/memories/${id}`],
    ] as const) {
      const res = await gw.call(method, path, { key: other.key, ...(method === 'PATCH' ? { body: { text: 'stolen' } } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('memory_not_found');
    }
    expect((await gw.call('GET', '/v1/memories?user=ada', { key: other.key })).body.data).toEqual([]);
  });

  it('puts the user’s facts relevant to the message into the prompt, with their provenance', async () => {
    const context = (content: string, extra: Json = {}) =>
      gw.call('POST', '/v1/context', { key: t.key, body: { model: 'm', user: 'ada', session_id: 'ctx', messages: [{ role: 'user', content }], ...extra } });
    const res = await context('What is Ada allergic to?');
    expect(res.status).toBe(200);
    const facts = res.body.items.filter((i: Json) => i.section === 'facts');
    expect(facts[0]).toMatchObject({ kind: 'fact', source_turns: [] });
    expect(facts[0].score).toBeGreaterThanOrEqual(0.6);
    const message = res.body.messages.find((m: Json) => m.role === 'system' && m.content.startsWith('Known facts about the user:'));
    expect(message.content).toContain('- Ada is allergic to peanuts and cashews.');
    // A fact about something else stays out (memory.facts.minScore): it would only take room.
    expect(message.content).not.toContain('cello');
    expect(res.body.usage.context.facts).toBeGreaterThan(0);

    const trip = await context('When does Ada visit her grandmother in Porto?');
    expect(trip.body.messages.find((m: Json) => m.role === 'system' && m.content.startsWith('Known facts')).content).toContain(
      '- Ada visits her grandmother in Porto every August. (2024-08-01)',
    );
    const off = await context('What is Ada allergic to?', { context: { facts: false } });
    expect(off.body.usage.context.facts).toBe(0);
  });

  it('deletes one memory, then forgets a user entirely: nothing left in SQL or the vector store', async () => {
    const one = (await add('ada', 'Ada takes the 7:40 train.')).body.id;
    expect((await gw.call('DELETE', `/v1/memories/${one}`, { key: t.key })).body).toEqual({ id: one, object: 'memory.deleted', deleted: true });
    expect((await gw.call('GET', `/v1/memories/${one}`, { key: t.key })).status).toBe(404);

    for (const text of ['Bob lives in Oslo.', 'Bob has two sons.', 'Bob runs marathons.']) await add('bob', text);
    const index = gw.gateway.deps.factIndex;
    expect(await index.count(t.id, 'bob')).toBe(3);
    const before = await index.count(t.id, 'ada');
    const res = await gw.call('DELETE', '/v1/memories?user=bob', { key: t.key });
    expect(res.body).toEqual({ object: 'memory.deleted', user: 'bob', deleted: 3 });
    const sql = gw.gateway.deps.sql;
    const left = await sql.query<{ m: number; e: number }>(
      "SELECT (SELECT count(*)::int FROM memories WHERE user_id = 'bob') AS m, (SELECT count(*)::int FROM memory_events WHERE user_id = 'bob') AS e",
    );
    expect(left.rows[0]).toEqual({ m: 0, e: 0 });
    const text = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM memory_events WHERE text LIKE 'Bob %' OR previous_text LIKE 'Bob %'");
    expect(text.rows[0]?.n).toBe(0);
    expect(await index.count(t.id, 'bob')).toBe(0);
    expect(await index.count(t.id, 'ada')).toBe(before);
  });
});

/**
 * A scripted memory model. Extraction: each turn's text maps to the facts it states. Reconciliation:
 * each new fact maps to an operation on the memory (shown as "id: text") whose text it names.
 */
const EXTRACT: Record<string, Array<{ text: string; category: string; date: string | null }>> = {
  'I live in Paris, near the canal.': [{ text: 'Ada lives in Paris.', category: 'fact', date: null }],
  'Big news: we just moved to Lyon!': [{ text: 'Ada lives in Lyon.', category: 'fact', date: null }],
  'I work as a nurse at the city hospital.': [{ text: 'Ada works as a nurse.', category: 'fact', date: null }],
  'I quit the hospital, I am a software tester now.': [{ text: 'Ada works as a software tester.', category: 'fact', date: null }],
  'My cat is called Miso.': [{ text: "Ada's cat is called Miso.", category: 'person', date: null }],
  'We renamed the cat to Mochi, it suits her better.': [{ text: "Ada's cat is called Mochi.", category: 'person', date: null }],
  'I am vegetarian, by the way.': [{ text: 'Ada is vegetarian.', category: 'preference', date: null }],
  'As I said, I do not eat meat.': [{ text: 'Ada is vegetarian.', category: 'preference', date: null }],
  'The dentist appointment is on Monday.': [{ text: 'Ada has a dentist appointment on 2023-05-15.', category: 'event', date: '2023-05-15' }],
  'Actually it was Tuesday, not Monday.': [{ text: 'Ada has a dentist appointment on 2023-05-16.', category: 'event', date: '2023-05-16' }],
};
const RECONCILE: Record<string, { action: string; target?: string; text?: string }> = {
  'Ada lives in Lyon.': { action: 'invalidate', target: 'Ada lives in Paris.' },
  'Ada works as a software tester.': { action: 'invalidate', target: 'Ada works as a nurse.' },
  "Ada's cat is called Mochi.": { action: 'update', target: "Ada's cat is called Miso.", text: "Ada's cat is called Mochi (renamed from Miso)." },
  'Ada is vegetarian.': { action: 'none', target: 'Ada is vegetarian.' },
  'Ada has a dentist appointment on 2023-05-16.': { action: 'update', target: 'Ada has a dentist appointment on 2023-05-15.', text: 'Ada has a dentist appointment on 2023-05-16.' },
};

function scriptedModel(req: RecordedRequest): { kind: 'text'; text: string } {
  const format = req.body.response_format?.json_schema?.name;
  const prompt: string = req.body.messages[1].content;
  if (format === 'facts') {
    const facts = prompt.split('\n').flatMap((line) => {
      const m = /^#(\d+) \[[\d-]+\] \S+: (.*)$/.exec(line);
      return m ? (EXTRACT[m[2] as string] ?? []).map((f) => ({ ...f, turns: [Number(m[1])] })) : [];
    });
    return { kind: 'text', text: JSON.stringify({ facts }) };
  }
  const [memoriesPart, factsPart] = prompt.split('\n\nNew facts:\n') as [string, string];
  const ids = new Map(
    memoriesPart
      .split('\n')
      .slice(1)
      .map((l) => [l.slice(l.indexOf(': ') + 2), l.slice(0, l.indexOf(': '))] as const),
  );
  const operations = factsPart.split('\n').map((l, fact) => {
    const text = l.slice(l.indexOf(': ') + 2);
    const rule = RECONCILE[text];
    const id = rule?.target ? ids.get(rule.target) : undefined;
    return rule && id ? { fact, action: rule.action, id, text: rule.text ?? null } : { fact, action: 'add', id: null, text: null };
  });
  return { kind: 'text', text: JSON.stringify({ operations }) };
}

describe('fact extraction from turns (scripted model)', () => {
  let gw: TestGateway;
  let upstream: FakeOpenAi;
  let t: { id: string; key: string };
  let day = 0;
  beforeAll(async () => {
    upstream = await startFakeOpenAi(scriptedModel);
    gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: upstream.url, retries: 0 }]),
        embeddings: { threads: 1 },
        memory: { facts: { model: 'm', debounceMs: 0, sweepIntervalMs: 200 } },
        jobs: { attempts: 2, backoffMs: 20 },
      },
    });
    t = await gw.tenant('facts');
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  /** Says `text` as the user in a session, then waits until the extractor has read it. */
  async function say(user: string, text: string): Promise<void> {
    day++;
    const session = `s-${user}`;
    const at = new Date(Date.UTC(2023, 4, 8 + day, 10)).toISOString();
    const res = await gw.call('POST', `/v1/sessions/${session}/messages`, { key: t.key, body: { user, messages: [{ role: 'user', name: 'Ada', content: text, created_at: at }] } });
    expect(res.status).toBe(201);
    for (let i = 0; i < 200; i++) {
      const { rows } = await gw.gateway.deps.sql.query<{ read: boolean }>('SELECT facts_seq = last_seq AS read FROM sessions WHERE tenant_id = $1 AND id = $2', [t.id, session]);
      if (rows[0]?.read) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`facts of "${text}" were not extracted`);
  }
  const current = async (user: string) => (await gw.call('GET', `/v1/memories?user=${user}`, { key: t.key })).body.data.map((m: Json) => m.text).sort();
  const all = async (user: string): Promise<Json[]> => (await gw.call('GET', `/v1/memories?user=${user}&include_invalid=true`, { key: t.key })).body.data;
  const events = async (id: string) => (await gw.call('GET', `/v1/memories/${id}/history`, { key: t.key })).body.data.map((e: Json) => [e.event, e.memory_id === id ? 'self' : 'other', e.text]);

  it('a user moves city: the old fact is kept as no longer valid, superseded by the new one', async () => {
    await say('u-move', 'I live in Paris, near the canal.');
    await say('u-move', 'Big news: we just moved to Lyon!');
    expect(await current('u-move')).toEqual(['Ada lives in Lyon.']);
    const rows = await all('u-move');
    const paris = rows.find((m) => m.text === 'Ada lives in Paris.');
    const lyon = rows.find((m) => m.text === 'Ada lives in Lyon.');
    expect(paris).toMatchObject({ current: false, superseded_by: lyon.id, source: 'extracted', source_turns: [{ session_id: 's-u-move', seq: 1 }] });
    expect(paris.valid_to).not.toBeNull();
    expect(lyon).toMatchObject({ current: true, valid_to: null, source_turns: [{ session_id: 's-u-move', seq: 2 }] });
    expect(await events(paris.id)).toEqual([
      ['add', 'self', 'Ada lives in Paris.'],
      ['add', 'other', 'Ada lives in Lyon.'],
      ['invalidate', 'self', 'Ada lives in Paris.'],
    ]);
    // The old fact is history: it cannot be edited, only the current one.
    const stale = await gw.call('PATCH', `/v1/memories/${paris.id}`, { key: t.key, body: { text: 'Ada lives in Nice.' } });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'memory_not_current', message: expect.stringContaining(lyon.id) });
    expect(await events(lyon.id)).toEqual([
      ['add', 'self', 'Ada lives in Lyon.'],
      ['invalidate', 'other', 'Ada lives in Paris.'],
    ]);
  });

  it('a user changes job: one current job', async () => {
    await say('u-job', 'I work as a nurse at the city hospital.');
    await say('u-job', 'I quit the hospital, I am a software tester now.');
    expect(await current('u-job')).toEqual(['Ada works as a software tester.']);
    expect((await all('u-job')).map((m) => [m.text, m.current]).sort()).toEqual([
      ['Ada works as a nurse.', false],
      ['Ada works as a software tester.', true],
    ]);
  });

  it('a pet is renamed: the same memory, updated in place, with the old name in its history', async () => {
    await say('u-pet', 'My cat is called Miso.');
    const [before] = await all('u-pet');
    await say('u-pet', 'We renamed the cat to Mochi, it suits her better.');
    const rows = await all('u-pet');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: before.id, text: "Ada's cat is called Mochi (renamed from Miso).", current: true, source_turns: [{ session_id: 's-u-pet', seq: 1 }, { session_id: 's-u-pet', seq: 2 }] });
    const history = (await gw.call('GET', `/v1/memories/${before.id}/history`, { key: t.key })).body.data;
    expect(history.map((e: Json) => [e.event, e.text, e.previous_text, e.actor])).toEqual([
      ['add', "Ada's cat is called Miso.", null, 'extractor'],
      ['update', "Ada's cat is called Mochi (renamed from Miso).", "Ada's cat is called Miso.", 'extractor'],
    ]);
  });

  it('a fact stated twice is one memory, restated', async () => {
    await say('u-veg', 'I am vegetarian, by the way.');
    await say('u-veg', 'As I said, I do not eat meat.');
    const rows = await all('u-veg');
    expect(rows.map((m) => m.text)).toEqual(['Ada is vegetarian.']);
    expect(rows[0].source_turns).toEqual([
      { session_id: 's-u-veg', seq: 1 },
      { session_id: 's-u-veg', seq: 2 },
    ]);
    expect(await events(rows[0].id)).toEqual([
      ['add', 'self', 'Ada is vegetarian.'],
      ['restate', 'self', 'Ada is vegetarian.'],
    ]);
  });

  it('a correction ("actually it was Tuesday") fixes the text and the date of the same memory', async () => {
    await say('u-date', 'The dentist appointment is on Monday.');
    const [before] = await all('u-date');
    expect(before.event_at).toBe('2023-05-15T00:00:00.000Z');
    await say('u-date', 'Actually it was Tuesday, not Monday.');
    const rows = await all('u-date');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: before.id, text: 'Ada has a dentist appointment on 2023-05-16.', event_at: '2023-05-16T00:00:00.000Z', current: true });
    expect((await events(before.id)).map((e: Json[]) => e[0])).toEqual(['add', 'update']);
  });

  it('asked for structured output, and never reads a turn twice', async () => {
    const extraction = upstream.requests.filter((r) => r.body.response_format?.json_schema?.name === 'facts');
    expect(extraction.length).toBe(10);
    expect(extraction[0]?.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'facts', strict: true } });
    expect(extraction[0]?.body.response_format.json_schema.schema.properties.facts.type).toBe('array');
    // Every turn went to the model exactly once.
    const lines = extraction.flatMap((r) => (r.body.messages[1].content as string).split('\n'));
    expect(lines).toHaveLength(10);
    expect(new Set(lines).size).toBe(10);
  });
});
