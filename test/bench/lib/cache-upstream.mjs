#!/usr/bin/env node
// The cache bench's fake OpenAI upstream (as test/helpers/fake-openai.ts speaks it): POST
// /v1/chat/completions answers at once with the same ~400-character answer, as one JSON completion
// or, for `stream: true`, an SSE stream (role chunk, 20 content chunks, finish chunk, usage chunk
// when `stream_options.include_usage`, `data: [DONE]`). Listens on 127.0.0.1:$PORT.
//
//   PORT=18181 node test/bench/lib/cache-upstream.mjs
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

/** The answer every request gets; the bench seeds its cache entries with the same text. */
export const ANSWER =
  'Here is a short answer from the benchmark upstream. It is long enough to be split into several stream chunks, ' +
  'so a replayed answer and a live one carry about the same bytes: a few sentences of plain text, no tool calls, ' +
  'no citations, and a finish reason of stop. The cache stores it as it came and serves it again on a hit.';
const CHUNKS = 20;
const created = 1_700_000_000;

function pieces(text, n) {
  const words = text.match(/\S+\s*/g) ?? [text];
  const per = Math.ceil(words.length / n);
  const out = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out;
}
const PIECES = pieces(ANSWER, CHUNKS);
const usage = { prompt_tokens: 24, completion_tokens: 80, total_tokens: 104 };

function main() {
  const port = Number(process.env.PORT ?? 0);
  let n = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad json', type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      const id = `chatcmpl-bench${(n++).toString(36)}`;
      const model = body.model ?? 'unknown';
      if (!body.stream) {
        const json = JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop', logprobs: null }],
          usage,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.end(json);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (delta, finish = null) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] })}\n\n`;
      // One write per chunk, as a live model's stream arrives.
      res.write(chunk({ role: 'assistant', content: '' }));
      for (const p of PIECES) res.write(chunk({ content: p }));
      res.write(chunk({}, 'stop'));
      if (body.stream_options?.include_usage)
        res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => console.log(`fake upstream on 127.0.0.1:${server.address().port}`));
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
