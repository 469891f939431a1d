import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import type { Embedder } from '../../embeddings/port.js';
import { badRequest, GatewayError, notFound } from '../../errors.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { getTokenizer } from '../../tokens/tokenizer.js';
import { requireKey } from '../middleware/auth.js';
import { ctx } from '../request-context.js';
import { validate } from '../schemas/validate.js';

/** OpenAI's own limit on inputs per embeddings request; clients batch to it. */
export const MAX_INPUTS = 2048;
/**
 * Characters per request. Local embedding runs at tens to hundreds of texts/s on a small machine, so
 * one request must not hold both cores for minutes: 1 M chars ≈ 250k tokens ≈ 2048 inputs of ~500 chars.
 */
export const MAX_TOTAL_CHARS = 1_000_000;

/** The model id clients may send instead of the embedder's own. */
export const DEFAULT_ALIAS = 'default';

const bodySchema = z.object({
  input: z.union([z.string(), z.array(z.unknown())]),
  model: z.string().min(1),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export interface EmbeddingsRouteOptions {
  maxInputs?: number;
  maxTotalChars?: number;
}

/** Little-endian float32 bytes, base64 — what OpenAI returns and its SDKs decode. */
function toBase64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function inputs(input: string | unknown[], maxInputs: number, maxTotalChars: number): string[] {
  const texts = typeof input === 'string' ? [input] : input;
  if (texts.length === 0) throw badRequest('input must not be an empty array.', 'input', 'invalid_input');
  if (texts.length > maxInputs) {
    throw badRequest(`input has ${texts.length} items; at most ${maxInputs} inputs are allowed per request.`, 'input', 'too_many_inputs');
  }
  let chars = 0;
  texts.forEach((t, i) => {
    if (typeof t === 'number' || Array.isArray(t)) {
      throw badRequest('Token-array inputs are not supported: the local embedding model has its own tokenizer. Send strings.', 'input', 'unsupported_input');
    }
    if (typeof t !== 'string') throw badRequest(`input[${i}] must be a string.`, `input[${i}]`, 'invalid_input');
    if (t.length === 0) throw badRequest(`input[${i}] is empty; every input must be a non-empty string.`, `input[${i}]`, 'invalid_input');
    chars += t.length;
  });
  if (chars > maxTotalChars) {
    throw new GatewayError(`input has ${chars} characters in total; at most ${maxTotalChars} are allowed per request. Split it into several requests.`, {
      status: 413,
      code: 'input_too_large',
      category: 'client',
      param: 'input',
    });
  }
  return texts as string[];
}

/** POST /v1/embeddings — OpenAI-compatible, served by the local embedding model. */
export function embeddingsRoutes(deps: { auth: Authenticator; embedder: Embedder } & EmbeddingsRouteOptions) {
  const router = ExpressRouter();
  const { embedder } = deps;
  const maxInputs = deps.maxInputs ?? MAX_INPUTS;
  const maxTotalChars = deps.maxTotalChars ?? MAX_TOTAL_CHARS;
  // Usage is counted with cl100k (the encoding of OpenAI's embedding models), so token-based quotas
  // and dashboards read the same numbers whichever local model serves the vectors.
  const tokenizer = getTokenizer('cl100k_base');

  router.post('/v1/embeddings', requireKey(deps.auth, 'embeddings'), async (req, res) => {
    const body = validate(bodySchema, req.body);
    if (body.model !== embedder.model && body.model !== DEFAULT_ALIAS) {
      throw notFound(`The embedding model "${body.model}" does not exist on this gateway; use "${embedder.model}" or "${DEFAULT_ALIAS}".`, 'model_not_found');
    }
    if (body.dimensions !== undefined && body.dimensions !== embedder.dimensions) {
      throw badRequest(
        `The model "${embedder.model}" makes ${embedder.dimensions}-dimensional vectors; dimensions=${body.dimensions} is not supported.`,
        'dimensions',
        'unsupported_dimensions',
      );
    }
    const texts = inputs(body.input, maxInputs, maxTotalChars);
    const c = ctx(res);
    c.logFields.model = embedder.model;
    c.logFields.inputs = texts.length;

    const vectors = await embedder.embed(texts, { kind: 'document' });
    let tokens = 0;
    for (const t of texts) tokens += tokenizer.count(t);
    const base64 = body.encoding_format === 'base64';
    res.json({
      object: 'list',
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? toBase64(v) : Array.from(v) })),
      model: embedder.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });
  return router;
}
