import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { Stream } from 'openai/streaming';
import { type FakeOpenAi, startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, type TestGateway, upstreamConfig } from '../helpers/gateway.js';

// Prompt APIs end to end: a template published as POST /v1/prompts/:name, its versions, rollback, the
// variables checked before anything reaches the model (422), and runs answered by the chat pipeline
// (the fake upstream records exactly what it was sent; the cache and sessions apply; SSE for the SDK).

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const ticketPrompt = {
  name: 'summarize-ticket',
  description: 'One-paragraph summary of a support ticket',
  template: {
    system: 'You summarise support tickets for the {{team}} team. Answer in {{language}}.',
    user: 'Ticket #{{id}} (urgent: {{urgent}}), tags {{tags}}:\n{{body}}\nCustomer: {{customer}}',
  },
  variables: [
    { name: 'team', type: 'string' },
    { name: 'language', type: 'string', default: 'English' },
    { name: 'id', type: 'number' },
    { name: 'urgent', type: 'boolean' },
    { name: 'tags', type: 'array', required: false },
    { name: 'body', type: 'string', description: 'the ticket text' },
    { name: 'customer', type: 'object' },
  ],
  model: 'fast',
  params: { temperature: 0.2, max_tokens: 200 },
};

const vars = { team: 'billing', id: 42, urgent: true, tags: ['refund', 'card'], body: 'I was charged twice. {{team}} stays literal.', customer: { name: 'Ada', plan: 'pro' } };

describe('prompt APIs', () => {
  let up: FakeOpenAi;
  let gw: TestGateway;
  let t: Awaited<ReturnType<TestGateway['tenant']>>;
  let other: Awaited<ReturnType<TestGateway['tenant']>>;

  beforeAll(async () => {
    up = await startFakeOpenAi((req, n) => ({ kind: 'text', text: `Answer ${n}: ${req.body.messages.at(-1)?.content.length} chars.` }));
    const upstream = upstreamConfig([{ name: 'up', baseUrl: up.url, model: 'gpt-4o-mini' }], 'fast');
    gw = await startGateway({
      config: { providers: upstream.providers, models: { fast: upstream.models.fast, cached: { ...upstream.models.fast, cache: { enabled: true } } }, cache: { enabled: false, semantic: false } },
    });
    t = await gw.tenant('prompts');
    other = await gw.tenant('other');
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const publish = (body: Json, key = t.key) => gw.call('POST', '/v1/prompts', { key, body });
  const run = (name: string, body: Json, key = t.key) => gw.call('POST', `/v1/prompts/${name}`, { key, body });

  it('publishes a prompt and runs it: the upstream receives exactly the rendered messages, model and params', async () => {
    const created = await publish(ticketPrompt);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'prompt.version', name: 'summarize-ticket', version: 1, live: true, model: 'fast', params: { temperature: 0.2, max_tokens: 200 } });
    expect(created.body.variables.map((v: Json) => [v.name, v.required])).toEqual([
      ['team', true],
      ['language', false],
      ['id', true],
      ['urgent', true],
      ['tags', false],
      ['body', true],
      ['customer', true],
    ]);
    expect(created.body.created_by).toMatch(/^key_/);

    const res = await run('summarize-ticket', { variables: vars, user: 'agent-7' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'chat.completion', prompt: { name: 'summarize-ticket', version: 1 } });
    expect(res.body.choices[0].message.content).toMatch(/^Answer \d+:/);
    expect(res.headers.get('x-prompt-version')).toBe('1');
    const sent = up.requests.at(-1)?.body;
    expect(sent.messages).toEqual([
      { role: 'system', content: 'You summarise support tickets for the billing team. Answer in English.' },
      { role: 'user', content: 'Ticket #42 (urgent: true), tags ["refund","card"]:\nI was charged twice. {{team}} stays literal.\nCustomer: {"name":"Ada","plan":"pro"}' },
    ]);
    expect(sent).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.2, max_tokens: 200, user: 'agent-7' });
    expect(sent.session_id).toBeUndefined();
    // The run is metered like a chat request, under its own route.
    await gw.gateway.deps.usage.flush();
    const metered = await gw.gateway.deps.sql.query<{ route: string; alias: string }>('SELECT route, alias FROM usage_events WHERE request_id = $1', [res.headers.get('x-request-id')]);
    expect(metered.rows).toEqual([{ route: 'prompt', alias: 'fast' }]);

    // An optional variable without a default renders as nothing.
    const { tags: _tags, ...noTags } = vars;
    await run('summarize-ticket', { variables: { ...noTags, language: 'French' } });
    expect(up.requests.at(-1)?.body.messages[1].content).toContain('tags :');
    expect(up.requests.at(-1)?.body.messages[0].content).toContain('Answer in French.');
  });

  it('answers 422 naming each missing, mistyped or unknown variable, before the upstream is called', async () => {
    const before = up.requests.length;
    const missing = await run('summarize-ticket', { variables: { team: 'billing', id: 1, urgent: false, customer: {} } });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatchObject({ code: 'prompt_variables_invalid', type: 'invalid_request_error', param: 'variables.body' });
    expect(missing.body.error.message).toContain('"body" is required (string)');

    const wrong = await run('summarize-ticket', { variables: { ...vars, id: '42', urgent: 'yes', tags: 'refund', customer: null } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.param).toBe('variables.id');
    for (const part of ['"id" must be a number, got string', '"urgent" must be a boolean, got string', '"tags" must be an array, got string', '"customer" must be an object, got null']) {
      expect(wrong.body.error.message).toContain(part);
    }

    const unknown = await run('summarize-ticket', { variables: { ...vars, priority: 'high' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.param).toBe('variables.priority');
    expect(unknown.body.error.message).toContain('"priority" is not a variable of this prompt');

    const all = await run('summarize-ticket', { variables: { id: 'x', extra: 1 } });
    expect(all.status).toBe(422);
    for (const name of ['team', 'id', 'urgent', 'body', 'customer', 'extra']) expect(all.body.error.message).toContain(`"${name}"`);
    expect(all.body.error.message).not.toContain('"language"');
    expect(up.requests.length).toBe(before);
  });

  it('refuses a model override and other fields a caller cannot set', async () => {
    const model = await run('summarize-ticket', { model: 'gpt-4o', variables: vars });
    expect(model.status).toBe(400);
    expect(model.body.error).toMatchObject({ code: 'prompt_model_fixed', param: 'model' });
    const temp = await run('summarize-ticket', { variables: vars, temperature: 1.5 });
    expect(temp.status).toBe(400);
    expect(temp.body.error.code).toBe('invalid_request');
    expect((await run('summarize-ticket', { variables: 'team=billing' })).body.error.param).toBe('variables');
  });

  it('refuses a definition that could not run', async () => {
    const cases: Array<[Json, string]> = [
      [{ ...ticketPrompt, name: 'Bad Name' }, 'name'],
      [{ ...ticketPrompt, template: { user: 'Hi {{who}}' } }, 'template'],
      [{ ...ticketPrompt, variables: [...ticketPrompt.variables, { name: 'team', type: 'string' }] }, 'variables[7].name'],
      [{ ...ticketPrompt, variables: [{ name: 'n', type: 'number', default: 'one' }], template: { user: '{{n}}' } }, 'variables[0].default'],
      [{ ...ticketPrompt, variables: [{ name: 'n', type: 'date' }], template: { user: '{{n}}' } }, 'variables[0].type'],
      [{ ...ticketPrompt, params: { model: 'other' } }, 'params.model'],
      [{ ...ticketPrompt, params: { stream: true } }, 'params.stream'],
      [{ ...ticketPrompt, params: { temperature: 7 } }, 'params.temperature'],
      [{ ...ticketPrompt, model: 'no-such-model' }, 'model'],
    ];
    for (const [body, param] of cases) {
      const res = await publish(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param, JSON.stringify(body)).toBe(param);
    }
    expect((await gw.call('GET', '/v1/prompts/summarize-ticket', { key: t.key })).body.latest_version).toBe(1);
  });

  it('versions: a new one goes live, an inactive one only runs pinned, and rollback makes an older one live', async () => {
    const v2 = await publish({ ...ticketPrompt, description: 'v2', template: { ...ticketPrompt.template, system: 'V2 for {{team}} in {{language}}.' } });
    expect(v2.body).toMatchObject({ version: 2, live: true });
    const v3 = await publish({ ...ticketPrompt, description: 'v3 draft', activate: false, template: { user: 'V3 {{body}}' }, variables: [{ name: 'body', type: 'string' }] });
    expect(v3.body).toMatchObject({ version: 3, live: false });
    expect(v3.body.template.system).toBeNull();

    const live = await run('summarize-ticket', { variables: vars });
    expect(live.body.prompt).toEqual({ name: 'summarize-ticket', version: 2 });
    expect(up.requests.at(-1)?.body.messages[0].content).toBe('V2 for billing in English.');

    // A pinned version is checked against its own variables.
    const pinned = await run('summarize-ticket', { version: 3, variables: { body: 'Only the body.' } });
    expect(pinned.body.prompt).toEqual({ name: 'summarize-ticket', version: 3 });
    expect(up.requests.at(-1)?.body.messages).toEqual([{ role: 'user', content: 'V3 Only the body.' }]);
    expect((await run('summarize-ticket', { version: 3, variables: vars })).status).toBe(422);
    const v1 = await run('summarize-ticket', { version: 1, variables: vars });
    expect(v1.body.prompt.version).toBe(1);
    expect((await run('summarize-ticket', { version: 9, variables: vars })).body.error.code).toBe('prompt_version_not_found');

    const described = await gw.call('GET', '/v1/prompts/summarize-ticket', { key: t.key });
    expect(described.body).toMatchObject({ object: 'prompt', name: 'summarize-ticket', live_version: 2, latest_version: 3, live: { version: 2, live: true, description: 'v2' } });
    expect(described.body.versions.map((v: Json) => [v.version, v.live])).toEqual([
      [3, false],
      [2, true],
      [1, false],
    ]);
    const third = await gw.call('GET', '/v1/prompts/summarize-ticket/versions/3', { key: t.key });
    expect(third.body).toMatchObject({ object: 'prompt.version', version: 3, live: false, template: { system: null, user: 'V3 {{body}}' } });

    const rolled = await gw.call('PUT', '/v1/prompts/summarize-ticket/live', { key: t.key, body: { version: 1 } });
    expect(rolled.status).toBe(200);
    expect(rolled.body).toMatchObject({ live_version: 1, live: { version: 1 } });
    expect((await run('summarize-ticket', { variables: vars })).body.prompt.version).toBe(1);
    expect(up.requests.at(-1)?.body.messages[0].content).toContain('You summarise support tickets');
    expect((await gw.call('PUT', '/v1/prompts/summarize-ticket/live', { key: t.key, body: { version: 7 } })).status).toBe(404);

    const list = await gw.call('GET', '/v1/prompts', { key: t.key });
    expect(list.body.data).toEqual([expect.objectContaining({ object: 'prompt', name: 'summarize-ticket', live_version: 1, latest_version: 3 })]);
  });

  it("keeps tenants apart: another tenant's prompt is 404 to run, read, roll back or delete, and its own name is free", async () => {
    for (const [method, path, body] of [
      ['POST', '/v1/prompts/summarize-ticket', { variables: vars }],
      ['GET', '/v1/prompts/summarize-ticket', undefined],
      ['GET', '/v1/prompts/summarize-ticket/versions/1', undefined],
      ['PUT', '/v1/prompts/summarize-ticket/live', { version: 1 }],
      ['DELETE', '/v1/prompts/summarize-ticket', undefined],
    ] as const) {
      const res = await gw.call(method, path, { key: other.key, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('prompt_not_found');
    }
    expect((await gw.call('GET', '/v1/prompts', { key: other.key })).body.data).toEqual([]);
    const own = await publish({ ...ticketPrompt, template: { user: 'Other tenant: {{body}}' }, variables: [{ name: 'body', type: 'string' }] }, other.key);
    expect(own.body.version).toBe(1);
    expect((await gw.call('GET', '/v1/prompts/summarize-ticket', { key: t.key })).body.latest_version).toBe(3);
  });

  it('streams a run as SSE that the openai SDK reads', async () => {
    const stream = (await t.client.post('/prompts/summarize-ticket', { body: { variables: vars, stream: true, stream_options: { include_usage: true } }, stream: true })) as Stream<ChatCompletionChunk>;
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toMatch(/^Answer \d+: \d+ chars\.$/);
    expect(usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5 });
    const sent = up.requests.at(-1)?.body;
    expect(sent).toMatchObject({ stream: true, model: 'gpt-4o-mini', temperature: 0.2 });
    expect(sent.messages[0].content).toContain('billing team');
  });

  it('runs through the chat pipeline: sessions keep the turns, the cache answers a repeated run', async () => {
    await publish({ name: 'greet', template: { user: 'Say hi to {{who}}.' }, variables: [{ name: 'who', type: 'string' }], model: 'fast' });
    const first = await run('greet', { variables: { who: 'Ada' }, session_id: 'greetings' });
    expect(first.status).toBe(200);
    await run('greet', { variables: { who: 'Grace' }, session_id: 'greetings' });
    // The second run is sent the first exchange as history.
    expect(up.requests.at(-1)?.body.messages.map((m: Json) => m.content)).toEqual(['Say hi to Ada.', first.body.choices[0].message.content, 'Say hi to Grace.']);
    const turns = await gw.call('GET', '/v1/sessions/greetings/messages', { key: t.key });
    expect(turns.body.data.map((m: Json) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);

    await publish({ name: 'cached', template: { user: 'Define {{word}}.' }, variables: [{ name: 'word', type: 'string' }], model: 'cached' });
    const miss = await run('cached', { variables: { word: 'idempotent' } });
    expect(miss.headers.get('x-cache')).toBe('miss');
    await gw.gateway.deps.cache.idle();
    const hit = await run('cached', { variables: { word: 'idempotent' } });
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.body.choices[0].message.content).toBe(miss.body.choices[0].message.content);
    expect(hit.body.prompt).toEqual({ name: 'cached', version: 1 });
  });

  it('numbers concurrent publications of one name without gaps or duplicates', async () => {
    const body = (n: number) => ({ name: 'race', template: { user: `v${n} {{x}}` }, variables: [{ name: 'x', type: 'string' }], model: 'fast' });
    const all = await Promise.all([1, 2, 3, 4, 5].map((n) => publish(body(n))));
    expect(all.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(all.map((r) => r.body.version).sort()).toEqual([1, 2, 3, 4, 5]);
    expect((await gw.call('GET', '/v1/prompts/race', { key: t.key })).body).toMatchObject({ live_version: 5, latest_version: 5 });
  });

  it('deletes a prompt with its versions', async () => {
    const res = await gw.call('DELETE', '/v1/prompts/greet', { key: t.key });
    expect(res.body).toEqual({ object: 'prompt.deleted', name: 'greet', deleted: true });
    expect((await run('greet', { variables: { who: 'Ada' } })).status).toBe(404);
    expect((await gw.call('DELETE', '/v1/prompts/greet', { key: t.key })).status).toBe(404);
    const again = await publish({ name: 'greet', template: { user: 'Hello {{who}}' }, variables: [{ name: 'who', type: 'string' }], model: 'fast' });
    expect(again.body.version).toBe(1);
  });
});
