import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeOpenAi } from '../helpers/fake-openai.js';
import { startGateway, upstreamConfig } from '../helpers/gateway.js';

describe('logs', () => {
  it('carry the request id on every request line and never the prompt, the answer or a key', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const up = await startFakeOpenAi((req, n) => (n === 3 ? { kind: 'error', status: 500 } : { kind: 'text', text: `SECRET-ANSWER ${req.body.messages.length}` }));
    const gw = await startGateway({ logger: createLogger('info', sink), config: { ...upstreamConfig([{ name: 'up', baseUrl: up.url, retries: 0 }]) }, redis: false });
    try {
      const t = await gw.tenant();
      const body = { model: 'm', session_id: 'log-s', messages: [{ role: 'user', content: 'SECRET-PROMPT my card is 4111 1111 1111 1111' }] };
      const ok = await gw.call('POST', '/v1/chat/completions', { key: t.key, body, headers: { 'x-request-id': 'req-abc' } });
      expect(ok.status).toBe(200);
      await gw.call('POST', '/v1/chat/completions', { key: t.key, body: { ...body, stream: true } });
      const failed = await gw.call('POST', '/v1/chat/completions', { key: t.key, body });
      expect(failed.status).toBe(502);
      await new Promise((r) => setTimeout(r, 50));

      const text = lines.map((l) => JSON.stringify(l)).join('\n');
      for (const secret of ['SECRET-PROMPT', 'SECRET-ANSWER', '4111', t.key, 'sk-secret-up']) expect(text).not.toContain(secret);
      const requests = lines.filter((l) => l.msg === 'request');
      expect(requests.length).toBeGreaterThanOrEqual(5); // tenant, key, three chats
      for (const l of requests) expect(l).toMatchObject({ level: 'info', reqId: expect.any(String), time: expect.any(String) });
      expect(requests.find((l) => l.reqId === 'req-abc')).toMatchObject({ path: '/v1/chat/completions', status: 200, model: 'm', session: 'log-s', target: 'up' });
      // The upstream failure is logged with its request id and code, still without the prompt.
      expect(lines.find((l) => l.level === 'error' && l.code === 'upstream_server_error')?.reqId).toEqual(expect.any(String));
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
