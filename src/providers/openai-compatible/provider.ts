import type { CancelSignal } from '../cancel.js';
import { endpoint, parseJsonBody, postBuffered, postStreaming, statusError, transportError } from '../http.js';
import { createSseParser, type SseEvent } from '../sse.js';
import { chatBody } from './body.js';
import { type ChatCompletion, type ChatRequest, type ChunkBatch, type ChunkStream, chunkBatch, isUsageChunk, type LlmProvider, type ProviderCall } from '../types.js';

export interface OpenAiCompatibleOptions {
  /** Base URL including the API version path, e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  apiKey?: string | undefined;
  headers?: Record<string, string>;
  /** Name used in error messages (never the URL: it may carry credentials). */
  name: string;
  /** Ask for every stream's usage (see the `streamUsage` setting); default true. */
  streamUsage?: boolean;
}

/**
 * One adapter for every upstream that speaks OpenAI's chat-completions API: OpenAI, vLLM, Ollama
 * (/v1), llama.cpp server, LM Studio, and any other base URL. Requests and stream chunks pass
 * through untouched: no parse/serialise of chunks on the way back.
 */
export function createOpenAiCompatibleProvider(opts: OpenAiCompatibleOptions): LlmProvider {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const json = endpoint(url, headers);
  const sse = endpoint(url, { ...headers, accept: 'text/event-stream' });

  return {
    kind: 'openai',
    async complete({ body, signal }: ProviderCall): Promise<ChatCompletion> {
      const res = await postBuffered(json, chatBody(body.stream ? { ...body, stream: false } : body), signal);
      return parseJsonBody<ChatCompletion>(res, opts.name);
    },
    async stream({ body, signal }: ProviderCall): Promise<ChunkStream> {
      // The usage is asked for when the client did not ask: the gateway meters with it, the client never sees it.
      const hideUsage = opts.streamUsage !== false && body.stream_options?.include_usage !== true;
      const sent: ChatRequest = hideUsage ? { ...body, stream: true, stream_options: { ...body.stream_options, include_usage: true } } : body.stream ? body : { ...body, stream: true };
      const res = await postStreaming(sse, chatBody(sent), signal);
      if (res.status < 200 || res.status >= 300) throw await statusError(res, opts.name);
      return chunks(res.body, signal, hideUsage);
    },
  };
}

async function* chunks(body: AsyncIterable<Buffer>, signal: CancelSignal, hideUsage: boolean): ChunkStream {
  const parser = createSseParser();
  // After `[DONE]` the body is read to its end rather than left: leaving a `for await` early
  // destroys the stream with an error whose stack trace cost ~9% of a stream's CPU.
  let done = false;
  const take = (events: SseEvent[]): ChunkBatch | undefined => {
    const batch: string[] = [];
    let usage: string | undefined;
    for (const ev of events) {
      if (ev.data === '[DONE]') {
        done = true;
        break;
      }
      if (hideUsage && isUsageChunk(ev.data)) usage = ev.data;
      else batch.push(ev.data);
    }
    return batch.length > 0 || usage !== undefined || done ? chunkBatch(batch, done, usage) : undefined;
  };
  try {
    for await (const buf of body) {
      if (done) continue;
      const batch = take(parser.feed(buf));
      if (batch) yield batch;
    }
  } catch (err) {
    throw transportError(err, signal);
  }
  if (done) return;
  const rest = take(parser.end());
  if (rest) yield rest;
}
