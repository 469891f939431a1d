import { endpoint, parseJsonBody, postBuffered, postStreaming, statusError } from '../http.js';
import { parseSse } from '../sse.js';
import { type ChatCompletion, type ChunkStream, chunkBatch, isUsageChunk, type LlmProvider, type ProviderCall } from '../types.js';
import { toAnthropicRequest } from './request.js';
import { type AnthropicResponse, fromAnthropicResponse } from './response.js';
import { translateStream } from './stream.js';

export interface AnthropicProviderOptions {
  /** Defaults to https://api.anthropic.com; `/v1/messages` is appended. */
  baseUrl?: string;
  apiKey: string;
  /** Extra headers, e.g. `anthropic-beta`; they cannot replace the key or the version. */
  headers?: Record<string, string>;
  anthropicVersion?: string;
}

export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
// The only version string the Messages API has published; newer features come as beta headers.
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';
const TARGET = 'anthropic';
const RESERVED_HEADERS = new Set(['x-api-key', 'anthropic-version', 'content-type']);

/** The LlmProvider adapter for the Anthropic Messages API. */
export function createAnthropicProvider(opts: AnthropicProviderOptions): LlmProvider {
  // A configured base URL often already ends in /v1 (as OpenAI-style base URLs do); don't double it.
  const base = (opts.baseUrl ?? DEFAULT_ANTHROPIC_BASE_URL).replace(/\/+$/, '').replace(/\/v1$/, '');
  const url = `${base}/v1/messages`;
  const extra = Object.entries(opts.headers ?? {}).filter(([k]) => !RESERVED_HEADERS.has(k.toLowerCase()));
  const headers: Record<string, string> = {
    ...Object.fromEntries(extra),
    'x-api-key': opts.apiKey,
    'anthropic-version': opts.anthropicVersion ?? DEFAULT_ANTHROPIC_VERSION,
  };

  const json = endpoint(url, headers);
  const sse = endpoint(url, { ...headers, accept: 'text/event-stream' });

  return {
    kind: 'anthropic',
    async complete(call: ProviderCall): Promise<ChatCompletion> {
      const res = await postBuffered(json, JSON.stringify({ ...toAnthropicRequest(call.body), stream: false }), call.signal);
      return fromAnthropicResponse(parseJsonBody<AnthropicResponse>(res, TARGET), call.body.model);
    },
    async stream(call: ProviderCall): Promise<ChunkStream> {
      const res = await postStreaming(sse, JSON.stringify({ ...toAnthropicRequest(call.body), stream: true }), call.signal);
      if (res.status < 200 || res.status >= 300) throw await statusError(res, TARGET);
      // The usage chunk is always made (the gateway meters with it), and sent on only when the client asked.
      const clientAsked = call.body.stream_options?.include_usage === true;
      return inBatchesOfOne(translateStream(parseSse(res.body, call.signal), call.body.model, { includeUsage: true }), !clientAsked);
    },
  };
}

/** Anthropic events translate one at a time; each becomes a batch of one chunk. */
async function* inBatchesOfOne(chunks: AsyncIterable<string>, hideUsage: boolean): ChunkStream {
  for await (const c of chunks) yield hideUsage && isUsageChunk(c) ? chunkBatch([], false, c) : [c];
}
