import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dot, type Embedder } from '../../src/embeddings/port.js';
import { createTransformersEmbedder } from '../../src/embeddings/transformers/adapter.js';
import { unauthorized } from '../../src/errors.js';
import { errorHandler, notFoundHandler } from '../../src/http/middleware/errors.js';
import { createContext } from '../../src/http/request-context.js';
import { embeddingsRoutes } from '../../src/http/routes/embeddings.js';
import type { Authenticator } from '../../src/tenancy/auth.js';
import { type TinyModel, writeTinyModel } from '../helpers/tiny-model.js';

const KEY = 'sk-test-embeddings-0123456789';

/** The fields of a success or error answer the tests read. */
interface ResponseBody {
  data: Array<{ object: string; index: number; embedding: number[] }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
  error: { message: string; type: string; param: string | null; code: string };
}

/** Accepts one tenant key; everything else is a 401, as the real Authenticator answers. */
const stubAuth = {
  async authenticate(header: string | undefined) {
    if (header !== `Bearer ${KEY}`) throw unauthorized('Invalid API key: it is unknown, revoked or expired.');
    return { kind: 'key', tenantId: 't1', keyId: 'k1', scopes: [] } as const;
  },
  forget() {},
  forgetTenant() {},
} as unknown as Authenticator;

// The route in a minimal express app with the gateway's real context and error middleware, served
// by the real transformers.js adapter on the tiny test model; the official openai SDK is the caller.
describe('POST /v1/embeddings', () => {
  let tiny: TinyModel;
  let embedder: Embedder;
  let server: Server;
  let url: string;
  let client: OpenAI;

  beforeAll(async () => {
    tiny = await writeTinyModel({ name: 'tiny-embed' });
    embedder = await createTransformersEmbedder({ model: tiny.name, modelDir: tiny.dir, threads: 1 });
    const log = pino({ level: 'silent' });
    const app = express();
    app.use((req, res, next) => {
      res.locals.ctx = createContext(req, log);
      next();
    });
    app.use(express.json({ limit: '4mb' }));
    app.use(embeddingsRoutes({ auth: stubAuth, embedder, maxInputs: 5, maxTotalChars: 200 }));
    app.use(notFoundHandler);
    app.use(errorHandler);
    server = createServer(app).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await embedder?.close();
    if (tiny) await rm(tiny.dir, { recursive: true, force: true });
  });

  async function post(body: unknown, key = KEY) {
    const res = await fetch(`${url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as ResponseBody };
  }

  it('answers the openai SDK (which asks for base64 and decodes it) with unit vectors in input order', async () => {
    const res = await client.embeddings.create({ model: tiny.name, input: ['the cat sat on the mat', 'hello world'] });
    expect(res.object).toBe('list');
    expect(res.model).toBe(tiny.name);
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    const [a, b] = res.data.map((d) => Float32Array.from(d.embedding));
    expect(a!.length).toBe(tiny.hidden);
    expect(dot(a!, a!)).toBeCloseTo(1, 5);
    const [direct] = await embedder.embed(['hello world']);
    expect(dot(b!, direct!)).toBeCloseTo(1, 6);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens);
  });

  it('returns floats for encoding_format float, accepts a single string and the alias "default"', async () => {
    const { status, body } = await post({ model: 'default', input: 'I like tea', encoding_format: 'float', dimensions: tiny.hidden });
    expect(status).toBe(200);
    expect(body.data).toHaveLength(1);
    expect(body.data[0]!.object).toBe('embedding');
    expect(body.data[0]!.embedding).toHaveLength(tiny.hidden);
    expect(body.model).toBe(tiny.name);
    expect(body.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  it('answers each mistake with an OpenAI error envelope that names it', async () => {
    const cases: Array<[unknown, number, string, string | null]> = [
      [{ model: 'text-embedding-3-small', input: 'x' }, 404, 'model_not_found', null],
      [{ model: 'default', input: 'x', dimensions: 3 }, 400, 'unsupported_dimensions', 'dimensions'],
      [{ model: 'default', input: [1, 2, 3] }, 400, 'unsupported_input', 'input'],
      [{ model: 'default', input: [[1, 2]] }, 400, 'unsupported_input', 'input'],
      [{ model: 'default', input: [] }, 400, 'invalid_input', 'input'],
      [{ model: 'default', input: ['ok', ''] }, 400, 'invalid_input', 'input[1]'],
      [{ model: 'default', input: ['a', 'b', 'c', 'd', 'e', 'f'] }, 400, 'too_many_inputs', 'input'],
      [{ model: 'default', input: ['x'.repeat(150), 'y'.repeat(60)] }, 413, 'input_too_large', 'input'],
      [{ model: 'default', input: 'x', encoding_format: 'int8' }, 400, 'invalid_request', 'encoding_format'],
      [{ input: 'x' }, 400, 'invalid_request', 'model'],
    ];
    for (const [body, status, code, param] of cases) {
      const res = await post(body);
      expect({ body, status: res.status, code: res.body.error?.code, param: res.body.error?.param }).toEqual({ body, status, code, param });
      expect(res.body.error.type).toBe('invalid_request_error');
    }
    const big = await post({ model: 'default', input: ['x'.repeat(150), 'y'.repeat(60)] });
    expect(big.body.error.message).toMatch(/210 characters.*at most 200/);
    const many = await post({ model: 'default', input: ['a', 'b', 'c', 'd', 'e', 'f'] });
    expect(many.body.error.message).toMatch(/6 items; at most 5 inputs/);
  });

  it('requires a tenant key', async () => {
    const res = await post({ model: 'default', input: 'x' }, 'wrong-key');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_api_key');
  });
});
