import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAi, type RecordedRequest, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// PII redaction on the chat path: what reaches the upstream carries placeholders or masks instead of the
// values, answers get the values back (JSON and streamed), blocked types are refused, and what is
// stored (the transcript, usage, the cache) never holds an original.

const EMAIL = 'ada.lovelace@example.org';
const CARD = '4111 1111 1111 1111';
const SSN = '123-45-6789';

/** Answers by repeating what the user's message says in place of the email, so restoration shows. */
function echo(req: RecordedRequest) {
  const text: string = req.body.messages.at(-1)?.content ?? '';
  const token = text.match(/<PII_EMAIL_\d+>/)?.[0] ?? 'nobody';
  return { kind: 'text' as const, text: `I will write to ${token} today.` };
}

describe('PII redaction', () => {
  let gw: TestGateway;
  let up: FakeOpenAi;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;

  beforeAll(async () => {
    up = await startFakeOpenAi(echo);
    gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: up.url }]),
        pii: { enabled: true, modes: { email: 'placeholder', credit_card: 'mask', us_ssn: 'block' } },
        cache: { enabled: true, semantic: false, sessions: true },
      },
    });
    t = await gw.tenant();
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const ask = (content: string, extra: Record<string, unknown> = {}) =>
    gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', messages: [{ role: 'user', content }], ...extra } });

  it('sends placeholders and masks upstream, and restores the placeholders in the answer', async () => {
    const res = await ask(`Email ${EMAIL} about the card ${CARD}.`, { session_id: 'pii-1' });
    expect(res.status).toBe(200);
    const sent = JSON.stringify(up.requests.at(-1)?.body);
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain(CARD);
    expect(sent).toContain('<PII_EMAIL_1>');
    expect(sent).toContain('[CREDIT_CARD]');
    expect(res.body.choices[0].message.content).toBe(`I will write to ${EMAIL} today.`);
  });

  it('restores placeholders in a streamed answer read by the openai SDK', async () => {
    const stream = await t.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: `Reply to ${EMAIL}, please.` }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(`I will write to ${EMAIL} today.`);
    expect(JSON.stringify(up.requests.at(-1)?.body)).not.toContain(EMAIL);
  });

  it('refuses a blocked type before anything is sent upstream', async () => {
    const before = up.requests.length;
    const res = await ask(`My SSN is ${SSN}.`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('pii_blocked');
    expect(res.body.error.message).not.toContain(SSN);
    expect(up.requests.length).toBe(before);
  });

  it('stores no original anywhere: transcript, usage, cache', async () => {
    await gw.gateway.deps.usage.flush();
    await gw.gateway.deps.cache.idle();
    const turns = await gw.call('GET', '/v1/sessions/pii-1/messages', { key: t.key });
    expect(turns.body.data.map((m: { content: string }) => m.content)).toEqual(['Email [EMAIL] about the card [CREDIT_CARD].', 'I will write to [EMAIL] today.']);
    for (const table of ['messages', 'cache_entries', 'usage_events']) {
      const { rows } = await gw.gateway.deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} t WHERE t::text LIKE $1 OR t::text LIKE $2 OR t::text LIKE $3`, [
        `%${EMAIL}%`,
        `%${CARD}%`,
        `%${SSN}%`,
      ]);
      expect(rows[0]?.n, table).toBe(0);
    }
    const { rows } = await gw.gateway.deps.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM cache_entries');
    expect(rows[0]?.n).toBeGreaterThan(0);
  });

  it('masks PII written to memory through the API and the session import', async () => {
    const memo = await gw.call('POST', '/v1/memories', { key: t.key, body: { user: 'ada', text: `Ada's email is ${EMAIL}.` } });
    expect(memo.status).toBe(201);
    expect(memo.body.text).toBe("Ada's email is [EMAIL].");
    const imported = await gw.call('POST', '/v1/sessions/pii-import/messages', { key: t.key, body: { messages: [{ role: 'user', content: `Card ${CARD}` }] } });
    expect(imported.status).toBe(201);
    const turns = await gw.call('GET', '/v1/sessions/pii-import/messages', { key: t.key });
    expect(turns.body.data[0].content).toBe('Card [CREDIT_CARD]');
  });

  it('answers a cached question for another address with that address', async () => {
    const first = await ask('Please email ben@example.com the invoice.');
    expect(first.body.choices[0].message.content).toBe('I will write to ben@example.com today.');
    await gw.gateway.deps.cache.idle();
    const second = await ask('Please email cleo@example.net the invoice.');
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.body.choices[0].message.content).toBe('I will write to cleo@example.net today.');
  });
});

describe('PII redaction of every type', () => {
  // One value of each type (from the labelled fixture), in mask mode: none reaches the upstream, the
  // transcript, the memory API's store or the request capture.
  const VALUES: Record<string, string> = {
    email: 'kgarcia@company.io',
    phone: '+19348372082',
    credit_card: '4540-1011-3156-4507',
    iban: 'IE78QDIJ87587851449401',
    ip: '2a02:bcde:e579:b693:052e:e73e:3559:e1db',
    us_ssn: '850-67-5595',
    uk_nino: 'CJ 60 03 60 D',
    es_dni: '58022826-J',
    fr_nir: '248023174766750',
    employee_id: 'EMP-277621',
  };
  let gw: TestGateway;
  let up: FakeOpenAi;

  beforeAll(async () => {
    up = await startFakeOpenAi(() => ({ kind: 'text', text: 'Noted.' }));
    const modes = Object.fromEntries(['email', 'phone', 'credit_card', 'iban', 'ip', 'us_ssn', 'uk_nino', 'es_dni', 'fr_nir'].map((t) => [t, 'mask']));
    gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: up.url }]),
        pii: { enabled: true, modes, custom: [{ name: 'employee_id', pattern: '\\bEMP-\\d{6}\\b', mode: 'mask' }] },
        observability: { capture: { tenants: ['*'] } },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('masks each type in the request, the transcript, memories and the capture', async () => {
    const t = await gw.tenant();
    for (const [type, value] of Object.entries(VALUES)) {
      const res = await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { model: 'm', session_id: `pii-${type}`, messages: [{ role: 'user', content: `Please note ${value} for me.` }] } });
      expect(res.status, type).toBe(200);
      const sent = up.requests.at(-1)?.body.messages.at(-1)?.content as string;
      expect(sent, type).toBe(`Please note [${type.toUpperCase()}] for me.`);
      const memo = await gw.call('POST', '/v1/memories', { key: t.key, body: { user: 'u', text: `Their ${type} is ${value}.` } });
      expect(memo.body.text, type).toBe(`Their ${type} is [${type.toUpperCase()}].`);
    }
    await gw.gateway.deps.usage.flush();
    // Captures are written when each response has closed, off the request path.
    const captures = async () => (await gw.gateway.deps.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM request_captures WHERE tenant_id = $1', [t.id])).rows[0]?.n;
    for (let i = 0; i < 100 && (await captures()) !== Object.keys(VALUES).length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await captures()).toBe(Object.keys(VALUES).length);
    for (const table of ['messages', 'memories', 'memory_events', 'request_captures', 'usage_events']) {
      for (const value of Object.values(VALUES)) {
        const { rows } = await gw.gateway.deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} x WHERE x::text LIKE $1`, [`%${value}%`]);
        expect(rows[0]?.n, `${value} in ${table}`).toBe(0);
      }
    }
  });
});
