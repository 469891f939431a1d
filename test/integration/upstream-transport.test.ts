import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { endpoint, errorOfStatus, parseJsonBody, postBuffered, postStreaming, UPSTREAM_CODES } from '../../src/providers/http.js';

// The buffered transport of JSON (not streamed) upstream calls, against a real node:http server on
// port 0: bodies in many reads, error bodies kept bounded, and aborts at every point of a call; and
// the streaming transport's body: in order for a slow reader, paused and resumed, and left early.

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

async function serve(handler: http.RequestListener) {
  server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return endpoint(`http://127.0.0.1:${port}/v1/chat/completions?x=1`, { authorization: 'Bearer sk-test' });
}

describe('postBuffered', () => {
  it('posts the bytes with the endpoint headers, and reads a body that arrives in many writes', async () => {
    let seen: { url?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
    const to = await serve(async (req, res) => {
      const parts: Buffer[] = [];
      for await (const c of req) parts.push(c as Buffer);
      seen = { url: req.url, headers: req.headers, body: Buffer.concat(parts).toString() };
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = JSON.stringify({ id: 'x', filler: 'é'.repeat(100_000) });
      for (let i = 0; i < text.length; i += 7_000) res.write(text.slice(i, i + 7_000));
      res.end();
    });
    const res = await postBuffered(to, Buffer.from('{"a":1}'), AbortSignal.timeout(5_000));
    expect(res.status).toBe(200);
    expect(parseJsonBody<{ filler: string }>(res, 'up').filler).toBe('é'.repeat(100_000));
    expect(seen).toMatchObject({ url: '/v1/chat/completions?x=1', body: '{"a":1}' });
    expect(seen.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer sk-test', 'content-length': '7' });
  });

  it('keeps only the start of an error body, enough for its message, and maps the status', async () => {
    const to = await serve((_req, res) => {
      res.writeHead(429, { 'retry-after': '3' });
      res.end(JSON.stringify({ error: { message: 'slow down' }, padding: 'x'.repeat(50_000) }));
    });
    const res = await postBuffered(to, '{}', AbortSignal.timeout(5_000));
    expect(res.status).toBe(429);
    expect(res.body.length).toBe(8192);
    const err = errorOfStatus(res.status, res.headers, res.body.toString(), 'up');
    expect(err).toMatchObject({ status: 429, code: UPSTREAM_CODES.rateLimited, retryAfter: 3 });
    expect(() => parseJsonBody(res, 'up')).toThrow(expect.objectContaining({ status: 429, code: UPSTREAM_CODES.rateLimited, retryAfter: 3 }));
  });

  it('answers a body that is not JSON with upstream_bad_response', async () => {
    const to = await serve((_req, res) => res.end('<html>oops</html>'));
    const res = await postBuffered(to, '{}', AbortSignal.timeout(5_000));
    expect(() => parseJsonBody(res, 'up')).toThrow(expect.objectContaining({ status: 502, code: UPSTREAM_CODES.badResponse }));
  });

  it('aborts a call whose upstream stalls mid-body with the signal reason, and closes the connection', async () => {
    let closed = false;
    const to = await serve((req, res) => {
      res.writeHead(200);
      res.write('{"partial":');
      req.socket.on('close', () => {
        closed = true;
      });
    });
    const ac = new AbortController();
    const reason = new GatewayError('timed out', { status: 504, code: UPSTREAM_CODES.timeout, category: 'upstream' });
    const call = postBuffered(to, '{}', ac.signal);
    setTimeout(() => ac.abort(reason), 100);
    await expect(call).rejects.toBe(reason);
    await expect.poll(() => closed).toBe(true);
  });

  it('is refused at once with an aborted signal, and as a client-closed request without a gateway reason', async () => {
    const to = await serve((_req, res) => res.end('{}'));
    const ac = new AbortController();
    ac.abort();
    await expect(postBuffered(to, '{}', ac.signal)).rejects.toMatchObject({ code: UPSTREAM_CODES.aborted });
  });

  it('maps a refused connection to upstream_unavailable', async () => {
    const to = await serve((_req, res) => res.end('{}'));
    server?.close();
    await once(server as http.Server, 'close');
    await expect(postBuffered(to, '{}', AbortSignal.timeout(5_000))).rejects.toMatchObject({ status: 502, code: UPSTREAM_CODES.unavailable });
  });
});

describe('postStreaming', () => {
  it('gives a slow reader every byte in order, the upstream held back while the reader is behind', async () => {
    // 32 MB: more than loopback's socket buffers hold, so an upstream that was not paused would be
    // done long before a reader that takes 20 ms a read has read five times.
    const piece = (i: number) => `${String(i).padStart(8, '0')}${'x'.repeat(16_376)}`;
    const pieces = 2048;
    let serverDone = false;
    const to = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < pieces; i++) if (!res.write(piece(i))) await once(res, 'drain');
      res.end(() => {
        serverDone = true;
      });
    });
    const res = await postStreaming(to, '{}', AbortSignal.timeout(20_000));
    expect(res.status).toBe(200);
    const parts: Buffer[] = [];
    let reads = 0;
    let doneWhileBehind: boolean | undefined;
    for await (const chunk of res.body) {
      parts.push(chunk);
      if (++reads <= 5) await new Promise((r) => setTimeout(r, 20));
      if (reads === 5) doneWhileBehind = serverDone;
    }
    expect(doneWhileBehind).toBe(false);
    const text = Buffer.concat(parts).toString();
    expect(text.length).toBe(pieces * 16_384);
    expect(text).toBe(Array.from({ length: pieces }, (_, i) => piece(i)).join(''));
  });

  it('aborts the request when the reader leaves early, and when the signal fires mid-body', async () => {
    const closed: string[] = [];
    const to = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      req.socket.on('close', () => closed.push(req.headers['x-case'] as string));
    });
    const early = await postStreaming({ ...to, headers: { ...to.headers, 'x-case': 'early' } }, '{}', AbortSignal.timeout(10_000));
    for await (const _ of early.body) break;
    await expect.poll(() => closed).toContain('early');

    const ac = new AbortController();
    const aborted = await postStreaming({ ...to, headers: { ...to.headers, 'x-case': 'signal' } }, '{}', ac.signal);
    const reason = new GatewayError('idle', { status: 504, code: UPSTREAM_CODES.timeout, category: 'upstream' });
    const reading = (async () => {
      for await (const _ of aborted.body);
    })();
    setTimeout(() => ac.abort(reason), 50);
    await expect(reading).rejects.toBe(reason);
    await expect.poll(() => closed).toContain('signal');
  });

  it('answers an error status with its body to read, and a refused connection as upstream_unavailable', async () => {
    const to = await serve((_req, res) => {
      res.writeHead(503);
      res.end(JSON.stringify({ error: { message: 'overloaded' } }));
    });
    const res = await postStreaming(to, '{}', AbortSignal.timeout(5_000));
    expect(res.status).toBe(503);
    const parts: Buffer[] = [];
    for await (const c of res.body) parts.push(c);
    expect(JSON.parse(Buffer.concat(parts).toString())).toEqual({ error: { message: 'overloaded' } });
    server?.close();
    await once(server as http.Server, 'close');
    await expect(postStreaming(to, '{}', AbortSignal.timeout(5_000))).rejects.toMatchObject({ code: UPSTREAM_CODES.unavailable });
  });
});
