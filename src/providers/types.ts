/**
 * The `LlmProvider` port: one upstream wire format. The gateway speaks the OpenAI chat-completions
 * shape internally; each adapter translates to and from its upstream. Adapters are stateless apart
 * from their HTTP connection pool and never see tenants, sessions or keys of the gateway.
 */

import type { CancelSignal } from './cancel.js';

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface TextPart {
  type: 'text';
  text: string;
}
export interface ImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: string };
}
export type ContentPart = TextPart | ImagePart | { type: string; [k: string]: unknown };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: Role;
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  [k: string]: unknown;
}

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean; description?: string } };

/** An OpenAI chat-completions request body, as sent upstream (gateway-only fields removed). */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stop?: string | string[];
  n?: number;
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
  user?: string;
  [k: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [k: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | null;

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; refusal?: string | null };
    finish_reason: FinishReason;
    logprobs?: unknown;
  }>;
  usage?: Usage;
  [k: string]: unknown;
}

export interface ChunkToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; tool_calls?: ChunkToolCallDelta[]; refusal?: string | null };
    finish_reason: FinishReason;
    logprobs?: unknown;
  }>;
  usage?: Usage | null;
  [k: string]: unknown;
}

export interface ProviderCall {
  /** The request with `model` already set to the target's upstream model name. */
  body: ChatRequest;
  /** Aborted when the client disconnects or the target's timeout passes. */
  signal: CancelSignal;
}

/**
 * A stream of OpenAI chat-completion chunks, each as its JSON text (the payload of one SSE `data:`
 * line), in batches: the chunks one network read completed. Text rather than objects lets an
 * OpenAI-compatible upstream pass through without a parse/serialise round trip (consumers that
 * need the content parse it); batches make the cost one await and one socket write per read
 * rather than per chunk.
 */
/**
 * A streamed answer: batches of chunk JSON (`data:` payloads, in order), one batch per network read.
 * The batch that ends the stream may say so (`last`), letting the gateway send it with the stream's
 * end in one write; the stream still ends only when the iterator does. `usage` is the stream's
 * final usage chunk when the client did not ask for one (`stream_options.include_usage`): adapters
 * get it anyway, for the gateway's metering, and it is not in the batch the client is sent.
 */
export type ChunkBatch = readonly string[] & { readonly last?: boolean; readonly usage?: string };

/** A batch with what it says about the stream; no properties when there is nothing to say. */
export function chunkBatch(chunks: string[], last: boolean, usage: string | undefined): ChunkBatch {
  if (last) Object.assign(chunks, { last });
  if (usage !== undefined) Object.assign(chunks, { usage });
  return chunks;
}

/** OpenAI's usage chunk: no choices, only `usage` (what `include_usage` adds at the end of a stream). */
export const isUsageChunk = (data: string): boolean => data.includes('"choices":[]') && data.includes('"usage":{');
export type ChunkStream = AsyncIterable<ChunkBatch>;

export interface LlmProvider {
  /** Adapter kind, e.g. `openai` or `anthropic`. */
  readonly kind: string;
  complete(call: ProviderCall): Promise<ChatCompletion>;
  /**
   * Resolves once the upstream has accepted the request (status 2xx and headers received), so the
   * router can still fall back to another target; rejects with a GatewayError otherwise.
   */
  stream(call: ProviderCall): Promise<ChunkStream>;
}
