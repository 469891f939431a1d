import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for an OpenAI-compatible upstream (`POST /v1/chat/completions`) speaking the real
 * wire format: JSON completions, SSE chunk streams ending in `data: [DONE]`, and OpenAI error
 * envelopes. Tests script it per request with a handler.
 */

export interface RecordedRequest {
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary request fields.
  body: any;
  /** Resolves when the client closed the connection before the reply finished. */
  aborted: Promise<void>;
}

export type FakeReply =
  | { kind: 'text'; text: string; finish?: string; delayMs?: number; chunkDelayMs?: number }
  | { kind: 'tool_calls'; calls: Array<{ id: string; name: string; arguments: string }> }
  | { kind: 'error'; status: number; message?: string; headers?: Record<string, string> }
  /** Accepts the request and never answers (timeouts, client aborts). */
  | { kind: 'hang' }
  /** Streams `chunks` text deltas, then hangs without finishing. */
  | { kind: 'stall'; chunks: string[] }
  /** Streams `text` to its `[DONE]`, then drops the connection before the response ends. */
  | { kind: 'cut'; text: string };

export interface FakeOpenAi {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const created = 1_700_000_000;

export async function startFakeOpenAi(handler: (req: RecordedRequest, n: number) => FakeReply = () => ({ kind: 'text', text: 'Hello from upstream.' })): Promise<FakeOpenAi> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      let resolveAborted: () => void = () => {};
      const aborted = new Promise<void>((r) => {
        resolveAborted = r;
      });
      res.on('close', () => {
        if (!res.writableFinished) resolveAborted();
      });
      const rec: RecordedRequest = { headers: req.headers, body: raw ? JSON.parse(raw) : undefined, aborted };
      requests.push(rec);
      if (req.url !== '/v1/chat/completions') return sendError(res, 404, 'not found');
      const reply = handler(rec, requests.length);
      void respond(res, rec, reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', param: null, code: null } }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function respond(res: ServerResponse, req: RecordedRequest, reply: FakeReply): Promise<void> {
  const model = req.body?.model ?? 'unknown';
  if (reply.kind === 'hang') return;
  if (reply.kind === 'error') return sendError(res, reply.status, reply.message ?? `upstream failure ${reply.status}`, reply.headers);
  if (reply.kind === 'text' && reply.delayMs) await sleep(reply.delayMs);
  const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
  if (!req.body?.stream) {
    const message =
      reply.kind === 'tool_calls'
        ? { role: 'assistant', content: null, tool_calls: reply.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
        : { role: 'assistant', content: reply.kind === 'stall' ? reply.chunks.join('') : reply.text };
    const finish = reply.kind === 'tool_calls' ? 'tool_calls' : reply.kind === 'text' ? (reply.finish ?? 'stop') : 'stop';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finish, logprobs: null }], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (delta: object, finish: string | null = null) =>
    res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] })}\n\n`);
  send({ role: 'assistant', content: '' });
  if (reply.kind === 'tool_calls') {
    reply.calls.forEach((c, index) => {
      send({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] });
      const half = Math.ceil(c.arguments.length / 2);
      send({ tool_calls: [{ index, function: { arguments: c.arguments.slice(0, half) } }] });
      send({ tool_calls: [{ index, function: { arguments: c.arguments.slice(half) } }] });
    });
    send({}, 'tool_calls');
  } else {
    const pieces = reply.kind === 'stall' ? reply.chunks : (reply.text.match(/\S+\s*/g) ?? ['']);
    for (const p of pieces) {
      if (res.destroyed) return;
      send({ content: p });
      if (reply.kind === 'text' && reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
    }
    if (reply.kind === 'stall') return;
    send({}, reply.kind === 'text' ? (reply.finish ?? 'stop') : 'stop');
  }
  if (reply.kind === 'cut') {
    res.write('data: [DONE]\n\n', () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (req.body?.stream_options?.include_usage) {
    res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}
