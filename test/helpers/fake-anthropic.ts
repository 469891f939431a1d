import { type IncomingHttpHeaders, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Anthropic Messages API (`POST /v1/messages`) speaking its real wire
 * format: JSON responses, SSE streams (message_start, ping, content_block_start/delta/stop,
 * message_delta, message_stop, error) and error envelopes. Each test scripts it with a handler.
 */

export type FakeBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id?: string; name: string; input: Record<string, unknown> };

export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export interface FakeMessageReply {
  content: FakeBlock[];
  /** Defaults to `tool_use` when a tool_use block is present, else `end_turn`. */
  stop_reason?: string;
  usage?: FakeUsage;
  /** Streaming only: after the content blocks, send this `error` event instead of finishing. */
  streamError?: { type: string; message: string };
}

export interface FakeErrorReply {
  status: number;
  error?: { type: string; message: string };
  headers?: Record<string, string>;
}

export type FakeReply = FakeMessageReply | FakeErrorReply;

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary request fields.
  body: any;
}

export interface FakeAnthropicOptions {
  handler?: (req: RecordedRequest) => FakeReply | Promise<FakeReply>;
}

export interface FakeAnthropic {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const ERROR_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const defaultHandler = (): FakeReply => ({ content: [{ type: 'text', text: 'Hello from the fake Anthropic.' }] });

export async function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const handler = opts.handler ?? defaultHandler;
  let seq = 0;

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const id = ++seq;
    res.setHeader('request-id', `req_fake_${id}`);
    if (req.method !== 'POST' || req.url !== '/v1/messages') return sendError(res, { status: 404 });
    if (!req.headers['x-api-key']) return sendError(res, { status: 401, error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    if (!req.headers['anthropic-version']) return sendError(res, { status: 400, error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
    let body: RecordedRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendError(res, { status: 400, error: { type: 'invalid_request_error', message: 'request body is not valid JSON' } });
    }
    const recorded: RecordedRequest = { path: req.url, headers: req.headers, body };
    requests.push(recorded);
    const invalid = validate(body);
    if (invalid) return sendError(res, { status: 400, error: { type: 'invalid_request_error', message: invalid } });
    try {
      const reply = await handler(recorded);
      if ('status' in reply) return sendError(res, reply);
      const msg = toMessage(reply, `msg_fake_${id}`, String(body.model));
      if (body.stream === true) return sendStream(res, msg, reply.streamError);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(msg));
    } catch (err) {
      sendError(res, { status: 500, error: { type: 'api_error', message: String(err) } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        // The gateway's keep-alive pool would otherwise hold close() open for its idle timeout.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The checks of the real API that a translation bug would trip. */
// biome-ignore lint/suspicious/noExplicitAny: validates an untyped request body.
function validate(body: any): string | null {
  if (typeof body?.model !== 'string') return 'model: Field required';
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Field required';
  for (const [i, m] of body.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
  }
  return null;
}

function sendError(res: ServerResponse, reply: FakeErrorReply): void {
  const type = reply.error?.type ?? ERROR_TYPE_BY_STATUS[reply.status] ?? 'api_error';
  const envelope = { type: 'error', error: { type, message: reply.error?.message ?? `fake ${type}` } };
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(JSON.stringify(envelope));
}

interface WireMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }>;
  stop_reason: string;
  stop_sequence: null;
  usage: Required<FakeUsage>;
}

function toMessage(reply: FakeMessageReply, id: string, model: string): WireMessage {
  let tools = 0;
  const content = reply.content.map((b) => (b.type === 'text' ? b : { ...b, id: b.id ?? `toolu_fake_${++tools}` }));
  const hasTool = content.some((b) => b.type === 'tool_use');
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: reply.stop_reason ?? (hasTool ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...reply.usage },
  };
}

function sendStream(res: ServerResponse, msg: WireMessage, streamError: FakeMessageReply['streamError']): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens } = msg.usage;
  send('message_start', {
    type: 'message_start',
    message: {
      ...msg,
      content: [],
      stop_reason: null,
      usage: { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens: 1 },
    },
  });
  send('ping', { type: 'ping' });
  msg.content.forEach((block, index) => {
    if (block.type === 'text') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const piece of block.text.match(/\S+\s*|\s+/g) ?? []) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      }
    } else {
      send('content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } });
      // Like the real API: an empty first delta, then the JSON in arbitrary slices.
      const json = JSON.stringify(block.input);
      const pieces = ['', ...(json.match(/[\s\S]{1,7}/g) ?? [])];
      for (const partial_json of pieces) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
      }
    }
    send('content_block_stop', { type: 'content_block_stop', index });
  });
  if (streamError) {
    send('error', { type: 'error', error: streamError });
    res.end();
    return;
  }
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: msg.stop_reason, stop_sequence: null },
    usage: { output_tokens },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}
