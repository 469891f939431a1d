#!/usr/bin/env node
/**
 * LoCoMo evidence recall at a token budget, through the real API (shared/bench/README.md).
 *
 *   npm run eval:locomo -- [--data DIR] [--budgets 1024,2048,4096] [--url URL --key KEY] [--concurrency N]
 *                           [--shares gateway|facts=…,summary=…] [--memory [--fake-llm | --llm-base-url URL --llm-model NAME --llm-key KEY]]
 *
 * For every conversation file in DIR: import all turns into one session (dia_id → external_id, the
 * session's date → created_at), wait until the gateway has embedded them, then ask POST /v1/context
 * with each question (categories 1–4; 5 is adversarial) as the new user message and a context budget
 * of B tokens. Recall = share of the question's evidence turns among the included items' external
 * ids (provenance, not string search; a fact counts for the turns it was read from). Without --url the script starts the built gateway on an
 * empty embedded database in a temporary directory. The last line printed is one JSON object.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, call, pool, startGateway } from './lib.mjs';
const { values: args } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    budgets: { type: 'string', default: '1024,2048,4096' },
    limit: { type: 'string' },
    /**
     * Section shares sent with every question. Default: all room after the last exchange to
     * retrieved memories (a question about the past, as an agent asks /v1/context); 'gateway' sends
     * none, so the deployment's configured shares apply (recent turns take their share first).
     */
    shares: { type: 'string', default: 'facts=0,summary=0,recent=0,episodic=1,documents=0' },
    /**
     * Long-term memory on: wait after each import until the session's summary (and, with a model,
     * fact) jobs are done. Evidence then also counts when its text is in the summary (a sentence of
     * the turn, verbatim, as an extractive summary keeps it).
     */
    memory: { type: 'boolean', default: false },
    /** A real model for summaries and facts (OpenAI-compatible); without one, summaries are extractive and no facts are made. */
    'llm-base-url': { type: 'string' },
    'llm-model': { type: 'string' },
    'llm-key': { type: 'string', default: process.env.OPENAI_API_KEY ?? 'unused' },
    /**
     * A scripted local model instead (no network): summaries are the first sentence of each new turn,
     * facts one per user turn that names something (a capitalised word or a number). It exercises the
     * whole memory path — jobs, structured output, facts in prompts, tokens by section — not a model's quality.
     */
    'fake-llm': { type: 'boolean', default: false },
  },
});
const fake = args['fake-llm'] ? await startScriptedModel() : undefined;
const llm = fake
  ? { baseUrl: fake.url, model: 'scripted', apiKey: 'unused' }
  : args['llm-base-url'] && args['llm-model']
    ? { baseUrl: args['llm-base-url'], model: args['llm-model'], apiKey: args['llm-key'] }
    : undefined;

/** The scripted model of --fake-llm: OpenAI's chat-completions wire format, structured output included. */
async function startScriptedModel() {
  const { createServer } = await import('node:http');
  const firstSentence = (t) => t.split(/(?<=[.!?])\s+/)[0];
  const answer = (body) => {
    const format = body.response_format?.json_schema?.name;
    const prompt = body.messages.at(-1)?.content ?? '';
    if (format === 'facts') {
      const facts = [...prompt.matchAll(/^#(\d+) \[([\d-]+)\] ([^:]+): (.*)$/gm)]
        .filter((m) => /\d|(?<=\S\s+)[A-Z][a-z]/.test(m[4]))
        .map((m) => ({ text: `${m[3]} said: ${firstSentence(m[4])}`, category: 'fact', date: null, turns: [Number(m[1])] }));
      return JSON.stringify({ facts });
    }
    if (format === 'operations') {
      const n = prompt.split('\n\nNew facts:\n')[1]?.split('\n').length ?? 0;
      return JSON.stringify({ operations: Array.from({ length: n }, (_, fact) => ({ fact, action: 'add', id: null, text: null })) });
    }
    const turns = [...prompt.matchAll(/^\[[\d-]+\] [^:]+: (.*)$/gm)].map((m) => firstSentence(m[1]));
    return turns.join(' ').split(/\s+/).slice(0, 300).join(' ');
  };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const body = JSON.parse(raw);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'scripted', object: 'chat.completion', created: 0, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: answer(body) }, finish_reason: 'stop' }], usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, close: () => server.close() };
}
const shares = args.shares && args.shares !== 'gateway' ? Object.fromEntries(args.shares.split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)])) : undefined;
const budgets = args.budgets.split(',').map(Number);
const MODEL = 'locomo-eval';
const log = (...a) => console.error(...a);

// ---------------------------------------------------------------- the gateway

// ---------------------------------------------------------------- the data

/** "1:56 pm on 8 May, 2023" → ISO time. */
function parseLocomoDate(s) {
  const m = /^(\d{1,2}):(\d{2})\s*(am|pm) on (\d{1,2}) (\w+),? (\d{4})$/i.exec(s.trim());
  if (!m) throw new Error(`unparsed date: ${s}`);
  let h = Number(m[1]) % 12;
  if (m[3].toLowerCase() === 'pm') h += 12;
  const month = new Date(`${m[5]} 1, 2000`).getMonth();
  return new Date(Date.UTC(Number(m[6]), month, Number(m[4]), h, Number(m[2]))).toISOString();
}

function loadConversation(file) {
  const d = JSON.parse(readFileSync(file, 'utf8'));
  const c = d.conversation ?? d;
  const sessions = Object.keys(c)
    .map((k) => /^session_(\d+)$/.exec(k))
    .filter((m) => m && Array.isArray(c[m[0]]) && c[m[0]].length > 0)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const turns = [];
  for (const n of sessions) {
    const at = parseLocomoDate(c[`session_${n}_date_time`]);
    for (const t of c[`session_${n}`]) {
      // A shared photo is part of what was said; its caption is the only text of it there is.
      const content = t.blip_caption ? `${t.text} [shares ${t.blip_caption}]` : t.text;
      turns.push({ role: t.speaker === c.speaker_a ? 'user' : 'assistant', name: t.speaker.replace(/[^A-Za-z0-9_-]/g, '_'), content, external_id: t.dia_id, created_at: at });
    }
  }
  const ids = new Set(turns.map((t) => t.external_id));
  const qa = (d.qa ?? [])
    .filter((q) => q.category !== 5)
    .map((q) => ({ question: q.question, category: q.category, evidence: [...new Set(q.evidence.flatMap((e) => String(e).split(/[;,]/)).map((e) => e.trim()).filter((e) => ids.has(e)))] }))
    .filter((q) => q.evidence.length > 0);
  return { turns, qa };
}

// ---------------------------------------------------------------- the run

const files = readdirSync(args.data).filter((f) => f.endsWith('.json')).sort().slice(0, args.limit ? Number(args.limit) : undefined);
if (files.length === 0) throw new Error(`no .json files in ${args.data}`);

const gw = args.url ? { url: args.url, adminKey: args['admin-key'], stop: () => {} } : await startGateway({
      name: 'locomo',
      keep: args.keep,
      // The model is never called: /v1/context stops before the upstream. The alias fixes the window
      // and the tokenizer (o200k).
      config: {
        providers: { none: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'unused' }, ...(llm ? { llm: { kind: 'openai', baseUrl: llm.baseUrl, apiKey: llm.apiKey } } : {}) },
        models: { [MODEL]: { targets: [{ provider: 'none', model: 'gpt-4o-mini' }] }, ...(llm ? { 'memory-llm': { targets: [{ provider: 'llm', model: llm.model }] } } : {}) },
        memory: { summary: { enabled: args.memory, ...(llm ? { model: 'memory-llm' } : {}) }, facts: { enabled: args.memory, ...(llm ? { model: 'memory-llm' } : {}) } },
      },
    });

/** Until the gateway's background jobs (summaries, facts) are done: admin job counts, or the summaries standing still. */
async function jobsSettled(key, session) {
  let last = '';
  for (let stable = 0; stable < 3; ) {
    await new Promise((r) => setTimeout(r, 500));
    if (gw.adminKey) {
      const { counts } = await call(gw.url, gw.adminKey, 'GET', '/admin/v1/jobs');
      const busy = Object.values(counts).reduce((n, c) => n + c.waiting + c.delayed + c.active, 0);
      stable = busy === 0 ? stable + 1 : 0;
    } else {
      const now = JSON.stringify((await call(gw.url, key, 'GET', `/v1/sessions/${session}/summaries`)).data.map((v) => v.version));
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
  }
}

/** Sentences of a turn long enough to identify it (as the extractive summary splits them). */
const sentencesOf = (text) => text.split(/(?<=[.!?])\s+|\n+/).map((x) => x.trim()).filter((x) => x.split(/\s+/).length >= 4);
try {
  const keyFile = args.keep ? join(resolve(args.keep), 'eval-key.json') : undefined;
  let key = args.key ?? (keyFile && existsSync(keyFile) ? JSON.parse(readFileSync(keyFile, 'utf8')).key : undefined);
  if (!key) {
    const res = await fetch(`${gw.url}/admin/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `locomo-${Date.now()}` }) });
    const tenant = await res.json();
    if (!res.ok) throw new Error(`cannot create a tenant: ${JSON.stringify(tenant)}`);
    key = (await call(gw.url, gw.adminKey, 'POST', '/admin/v1/keys', { tenant_id: tenant.id, name: 'eval' })).key;
    if (keyFile) writeFileSync(keyFile, JSON.stringify({ key }));
  }

  const results = []; // { file, category, budget, recall, tokens }
  const fullContext = [];
  const t0 = Date.now();
  for (const file of files) {
    const { turns, qa } = loadConversation(join(args.data, file));
    const session = `locomo-${file.replace(/\.json$/, '')}`;
    const tImport = Date.now();
    // With memory on, the conversation belongs to its first speaker: facts are kept per user.
    const user = args.memory ? turns[0].name : undefined;
    for (let i = 0; i < turns.length; i += 1000) await call(gw.url, key, 'POST', `/v1/sessions/${session}/messages`, { messages: turns.slice(i, i + 1000), model: MODEL, ...(user ? { user } : {}) });
    for (;;) {
      const s = await call(gw.url, key, 'GET', `/v1/sessions/${session}`);
      if (s.memory.turns_pending_embedding === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // The full conversation's size, for comparison: every turn's stored token count.
    let full = 0;
    for (let after = 0; ; ) {
      const page = await call(gw.url, key, 'GET', `/v1/sessions/${session}/messages?after=${after}&limit=1000`);
      for (const t of page.data) full += t.token_count;
      if (!page.has_more) break;
      after = page.data[page.data.length - 1].seq;
    }
    fullContext.push(full);
    if (args.memory) await jobsSettled(key, session);
    const textOf = new Map(turns.map((t) => [t.external_id, t.content]));
    log(`${file}: ${turns.length} turns imported and embedded in ${((Date.now() - tImport) / 1000).toFixed(1)} s; ${qa.length} questions; full context ${full} tokens`);
    const tasks = qa.flatMap((q) => budgets.map((budget) => ({ q, budget })));
    await pool(tasks, Number(args.concurrency), async ({ q, budget }) => {
      const r = await call(gw.url, key, 'POST', '/v1/context', { model: MODEL, session_id: session, ...(user ? { user } : {}), messages: [{ role: 'user', content: q.question }], context: { budget, ...(shares ? { shares } : {}) } });
      const got = new Set(r.items.map((i) => i.external_id).filter(Boolean));
      // A fact in the prompt carries the turns it was read from (seq n is the n-th imported turn).
      for (const i of r.items) for (const src of i.kind === 'fact' ? (i.source_turns ?? []) : []) if (src.session_id === session) got.add(turns[src.seq - 1]?.external_id);
      // Evidence in the summary: one of the turn's sentences in the summary's message, verbatim.
      const summaryText = r.messages.find((m) => m.role === 'system' && m.content.startsWith('Summary of the conversation so far:'))?.content ?? '';
      const inSummary = (e) => summaryText !== '' && sentencesOf(textOf.get(e) ?? '').some((x) => summaryText.includes(x));
      const viaSummary = q.evidence.filter((e) => !got.has(e) && inSummary(e)).length;
      const found = q.evidence.filter((e) => got.has(e)).length + viaSummary;
      results.push({ file, category: q.category, budget, recall: found / q.evidence.length, viaSummary, tokens: r.usage.prompt_tokens, sections: r.usage.context });
      if (args.verbose && found < q.evidence.length && budget === budgets[budgets.length - 1]) log(`  miss [cat ${q.category}] ${q.question} → ${q.evidence.filter((e) => !got.has(e)).join(' ')}`);
    });
  }

  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const round = (x, d = 3) => Number(x.toFixed(d));
  const summary = { eval: 'locomo-evidence-recall', files: files.length, shares: shares ?? 'gateway defaults', memory: args.memory ? (llm ? `summaries and facts by ${fake ? 'the scripted local model (--fake-llm)' : llm.model}` : 'extractive summaries, no facts (no model)') : 'off', questions: results.length / budgets.length, full_context_tokens: round(mean(fullContext), 0), seconds: round((Date.now() - t0) / 1000, 1), budgets: {} };
  for (const budget of budgets) {
    const rs = results.filter((r) => r.budget === budget);
    const byCategory = {};
    for (const c of [1, 2, 3, 4]) {
      const cr = rs.filter((r) => r.category === c);
      if (cr.length) byCategory[c] = round(mean(cr.map((r) => r.recall)));
    }
    const sections = {};
    for (const name of ['system', 'messages', 'facts', 'summary', 'recent', 'episodic', 'documents', 'older']) sections[name] = round(mean(rs.map((r) => r.sections?.[name] ?? 0)), 0);
    summary.budgets[budget] = {
      recall: round(mean(rs.map((r) => r.recall))),
      tokens: round(mean(rs.map((r) => r.tokens)), 0),
      by_category: byCategory,
      tokens_by_section: sections,
      ...(args.memory ? { evidence_found_in_summary: rs.reduce((n, r) => n + r.viaSummary, 0) } : {}),
    };
  }
  for (const [b, s] of Object.entries(summary.budgets)) log(`B=${b}: recall ${s.recall} (tokens used ${s.tokens}) by category ${JSON.stringify(s.by_category)}`);
  console.log(JSON.stringify(summary));
} finally {
  gw.stop();
  fake?.close();
}
