import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StopTracing, startTracing, tracesExporters } from '../../src/observability/tracing.js';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { documentSettled, startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Tracing end to end: an in-memory exporter registered in this process (vitest runs each file in its
// own fork), a real gateway with every retrieval stage on (episodic memory over a session longer than
// its replayed tail, a documents collection, a user's facts, summaries), the response cache, key rate
// limits and quotas. One trace per request: the chat.completions server span and a child per stage.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Text that must never reach a span: the prompt of the traced requests. */
const SECRET = 'zebra-quartz-7731';
const QUESTION = `How much is a hotel night reimbursed? Ada asks about trip ${SECRET}.`;

const POLICY = `# Travel policy

## Hotels

Hotels are reimbursed up to 150 EUR per night in Europe.

## Trains

Trips under four hours go by train, second class.
`;

/** 30 alternating turns; the gateway replays only the last 10 (session.hotTurns), so the rest is retrieved. */
const TURNS = Array.from({ length: 30 }, (_, i) => ({
  role: i % 2 === 0 ? 'user' : 'assistant',
  content: i % 2 === 0 ? `Day ${i}: I went to the office and booked a hotel for the conference.` : 'Noted, have a good trip.',
}));

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let stop: StopTracing;
  let up: FakeOpenAi;
  let gw: TestGateway;
  let tenantId: string;
  let key: string;

  beforeAll(async () => {
    stop = await startTracing({}, { exporter });
    let failed = false;
    up = await startFakeOpenAi((req) => {
      // A request saying "flaky" fails once with a 500, then succeeds on the retry.
      if (!failed && JSON.stringify(req.body.messages).includes('flaky')) {
        failed = true;
        return { kind: 'error', status: 500, message: 'upstream exploded' };
      }
      return { kind: 'text', text: 'Up to 150 EUR per night.' };
    });
    gw = await startGateway({
      config: {
        ...upstreamConfig([{ name: 'up', baseUrl: up.url }]),
        embeddings: { threads: 1 },
        session: { hotTurns: 10 },
        // Any fact of the user is offered (the similarity floor is not under test).
        memory: { episodic: { enabled: true, sweepIntervalMs: 200 }, facts: { minScore: -1 } },
        cache: { enabled: true, sessions: true },
      },
    });
    const t = await gw.tenant('traced');
    tenantId = t.id;
    // A key with a rate limit and a quota, so both checks run.
    key = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: tenantId, limits: { rpm: 1000, tokens_per_day: 1_000_000 } })).body.key;
    const col = (await gw.call('POST', '/v1/collections', { key, body: { name: 'Policies' } })).body.id;
    const upload = await gw.call('POST', `/v1/collections/${col}/documents`, { key, body: { documents: [{ text: POLICY, title: 'Travel policy' }] } });
    expect(upload.status).toBe(202);
    expect((await documentSettled(gw, key, upload.body.data[0].id)).status).toBe('ready');
    expect((await gw.call('POST', '/v1/memories', { key, body: { user: 'ada', text: 'Ada prefers hotels close to the train station.' } })).status).toBe(201);
    expect((await gw.call('POST', '/v1/sessions/trip/messages', { key, body: { user: 'ada', messages: TURNS } })).status).toBe(201);
    for (const until = Date.now() + 30_000; ; await sleep(100)) {
      const s = await gw.call('GET', '/v1/sessions/trip', { key });
      if (s.body.memory?.turns_pending_embedding === 0) break;
      if (Date.now() > until) throw new Error(`turns not embedded: ${JSON.stringify(s.body)}`);
    }
    // What setting up made (admin and API routes are not traced) is not under test.
    exporter.reset();
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await stop?.();
  });

  /** The spans of the trace whose server span answered the request `requestId`, once all have ended. */
  async function traceOf(requestId: string, expected: string[]): Promise<ReadableSpan[]> {
    await gw.gateway.deps.cache.idle();
    for (const until = Date.now() + 5_000; ; await sleep(20)) {
      const server = exporter.getFinishedSpans().find((s) => s.name === 'chat.completions' && s.attributes['gateway.request_id'] === requestId);
      const spans = server ? exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === server.spanContext().traceId) : [];
      if (expected.every((name) => spans.some((s) => s.name === name))) return spans;
      if (Date.now() > until) throw new Error(`trace incomplete: ${spans.map((s) => s.name).join(', ')}`);
    }
  }

  const one = (spans: ReadableSpan[], name: string): ReadableSpan => {
    const found = spans.filter((s) => s.name === name);
    expect(found, name).toHaveLength(1);
    return found[0] as ReadableSpan;
  };
  const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

  const SERVER_CHILDREN = ['auth', 'rate_limit', 'quota', 'context.assemble', 'cache.lookup', 'upstream', 'persist', 'cache.save'];
  const CONTEXT_CHILDREN = ['context.history', 'context.summary', 'context.stage.episodic', 'context.stage.documents', 'context.stage.facts'];

  it('exports one trace per request with a span per pipeline stage, and never the prompt text', async () => {
    const res = await gw.call('POST', '/v1/chat/completions', {
      key,
      body: { model: 'm', user: 'ada', session_id: 'trip', messages: [{ role: 'user', content: QUESTION }], context: { budget: 400 } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('miss');
    // Every stage ran: the answer carries what each retrieved.
    const sections = new Set((res.body.context.items as Json[]).map((i) => i.section));
    expect([...sections].sort()).toEqual(expect.arrayContaining(['documents', 'episodic', 'facts']));

    const spans = await traceOf(res.headers.get('x-request-id') as string, [...SERVER_CHILDREN, ...CONTEXT_CHILDREN]);
    const server = one(spans, 'chat.completions');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentOf(server)).toBeUndefined();
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'gateway.tenant_id': tenantId,
      'gateway.model_alias': 'm',
      'gateway.session': true,
      'gateway.stream': false,
      'gateway.cache': 'miss',
      'gateway.upstream.provider': 'up',
      'gateway.upstream.attempts': 1,
    });

    const id = server.spanContext().spanId;
    for (const name of SERVER_CHILDREN) expect(parentOf(one(spans, name)), name).toBe(id);
    const assemble = one(spans, 'context.assemble');
    for (const name of CONTEXT_CHILDREN) expect(parentOf(one(spans, name)), name).toBe(assemble.spanContext().spanId);
    // Nothing else in the trace: every span is one of the stages.
    expect(spans.map((s) => s.name).sort()).toEqual(['chat.completions', ...SERVER_CHILDREN, ...CONTEXT_CHILDREN].sort());

    expect(one(spans, 'auth').attributes['gateway.tenant_id']).toBe(tenantId);
    expect(one(spans, 'rate_limit').attributes).toMatchObject({ 'gateway.limits': 1, 'gateway.limits.store': 'redis', 'gateway.limits.admitted': true });
    expect(assemble.attributes).toMatchObject({
      'context.session': true,
      'context.user': true,
      'context.retrieval': true,
      'context.documents': true,
      'context.budget': 400,
    });
    expect(assemble.attributes['context.tokens']).toBeGreaterThan(0);
    expect(one(spans, 'context.stage.documents').attributes['context.candidates']).toBeGreaterThan(0);
    expect(one(spans, 'context.stage.episodic').attributes['context.candidates']).toBeGreaterThan(0);
    expect(one(spans, 'context.stage.facts').attributes['context.candidates']).toBeGreaterThan(0);
    expect(one(spans, 'context.summary').attributes['context.summary.found']).toBe(false);
    expect(one(spans, 'cache.lookup').attributes).toMatchObject({ 'cache.result': 'miss', 'cache.kind': 'semantic' });
    expect(one(spans, 'upstream').attributes).toMatchObject({
      'gateway.upstream.provider': 'up',
      'gateway.upstream.model': 'gpt-4o-mini',
      'gateway.upstream.attempt': 1,
    });
    expect(one(spans, 'persist').attributes['gateway.turns']).toBe(2);
    // Stages end before their parent; every span ended without an error.
    for (const s of spans) {
      expect(s.status.code, s.name).not.toBe(2);
      expect(s.ended).toBe(true);
    }

    // No attribute or event of any exported span carries the prompt (nor the answer).
    const texts = exporter
      .getFinishedSpans()
      .flatMap((s) => [
        ...Object.values(s.attributes).map(String),
        ...s.events.flatMap((e) => [e.name, ...Object.values(e.attributes ?? {}).map(String)]),
        s.status.message ?? '',
      ]);
    for (const t of texts) {
      expect(t).not.toContain(SECRET);
      expect(t).not.toContain('150 EUR');
    }
  });

  it('makes a second trace for a second request (a stream), and continues a caller’s W3C trace', async () => {
    const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId));
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({ model: 'm', user: 'ada', session_id: 'trip', stream: true, messages: [{ role: 'user', content: `And trains? ${SECRET}` }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data: [DONE]');
    const spans = await traceOf(res.headers.get('x-request-id') as string, [...SERVER_CHILDREN, ...CONTEXT_CHILDREN]);
    const server = one(spans, 'chat.completions');
    expect(before.has(server.spanContext().traceId)).toBe(false);
    expect(server.spanContext().traceId).toBe(callerTrace);
    expect(server.parentSpanContext).toMatchObject({ traceId: callerTrace, spanId: callerSpan, isRemote: true });
    expect(server.attributes).toMatchObject({ 'gateway.stream': true, 'gateway.session': true, 'http.response.status_code': 200 });
    expect(parentOf(one(spans, 'upstream'))).toBe(server.spanContext().spanId);
    for (const s of exporter.getFinishedSpans()) for (const v of Object.values(s.attributes)) expect(String(v)).not.toContain(SECRET);
  });

  it('records each upstream attempt, the failed one with its error', async () => {
    const res = await gw.call('POST', '/v1/chat/completions', { key, body: { model: 'm', messages: [{ role: 'user', content: `flaky ${SECRET}` }] } });
    expect(res.status).toBe(200);
    const spans = await traceOf(res.headers.get('x-request-id') as string, ['upstream']);
    const server = one(spans, 'chat.completions');
    expect(server.attributes).toMatchObject({ 'gateway.upstream.attempts': 2, 'gateway.session': false, 'http.response.status_code': 200 });
    const attempts = spans
      .filter((s) => s.name === 'upstream')
      .sort((a, b) => Number(a.attributes['gateway.upstream.attempt']) - Number(b.attributes['gateway.upstream.attempt']));
    expect(attempts.map((s) => s.attributes['gateway.upstream.attempt'])).toEqual([1, 2]);
    for (const s of attempts) expect(s.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    const [failedAttempt, retried] = attempts as [ReadableSpan, ReadableSpan];
    expect(failedAttempt.status.code).toBe(2);
    expect(failedAttempt.attributes).toMatchObject({ 'error.type': 'upstream_server_error', 'gateway.error.status': 502 });
    expect(failedAttempt.events.map((e) => e.name)).toEqual(['exception']);
    expect(retried.status.code).not.toBe(2);
    // A request without a session or context assembles nothing; the cache still looks it up.
    expect(spans.map((s) => s.name).sort()).toEqual(['auth', 'cache.lookup', 'cache.save', 'chat.completions', 'quota', 'rate_limit', 'upstream', 'upstream']);
  });

  it('records a refused request on its server span', async () => {
    const res = await gw.call('POST', '/v1/chat/completions', { key, body: { model: 'nope', messages: [{ role: 'user', content: SECRET }] } });
    expect(res.status).toBe(404);
    const spans = await traceOf(res.headers.get('x-request-id') as string, ['auth']);
    const server = one(spans, 'chat.completions');
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': 'model_not_found', 'gateway.model_alias': 'nope' });
    // A client error is not a server failure.
    expect(server.status.code).not.toBe(2);
    expect(spans.map((s) => s.name).sort()).toEqual(['auth', 'chat.completions']);
  });
});

describe('tracing configuration', () => {
  it('is off unless the standard variables ask for it', () => {
    expect(tracesExporters({}).names).toEqual([]);
    expect(tracesExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).names).toEqual(['otlp']);
    expect(tracesExporters({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).names).toEqual(['otlp']);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'otlp' }).names).toEqual(['otlp']);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'console, otlp' }).names).toEqual(['console', 'otlp']);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).names).toEqual([]);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).names).toEqual([]);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual({ names: [], unknown: ['zipkin'] });
  });

  it('starts nothing when off', async () => {
    const stop = await startTracing({});
    await stop();
  });
});
