import { GatewayError } from '../../errors.js';
import { UPSTREAM_CODES } from '../http.js';
import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../types.js';

/** The subset of an Anthropic Messages response this adapter reads. */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}
export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  // thinking, server tool results and future block types are read past, not translated.
  | { type: string; [k: string]: unknown };
export interface AnthropicResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: string | null;
  stop_sequence?: string | null;
  usage: AnthropicUsage;
}

const FINISH_BY_STOP: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // pause_turn: a server tool loop paused; to an OpenAI client the turn simply ended.
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export function mapStopReason(reason: string | null | undefined): FinishReason {
  if (!reason) return null;
  return FINISH_BY_STOP[reason] ?? 'stop';
}

/**
 * Anthropic counts cached prompt tokens apart from `input_tokens`; OpenAI's `prompt_tokens`
 * includes them, with cache reads reported again under `prompt_tokens_details.cached_tokens`.
 */
export function toUsage(u: AnthropicUsage): Usage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + cacheRead + (u.cache_creation_input_tokens ?? 0);
  const completion = u.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Translates an Anthropic Messages response into an OpenAI chat completion. Pure given `created`. */
export function fromAnthropicResponse(msg: AnthropicResponse, requestedModel: string, created = nowSeconds()): ChatCompletion {
  if (typeof msg !== 'object' || msg === null || !Array.isArray(msg.content)) {
    throw new GatewayError('The upstream anthropic answered with a body that is not a message.', {
      status: 502,
      code: UPSTREAM_CODES.badResponse,
      category: 'upstream',
    });
  }
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'tool_use') {
      const { id, name, input } = block as { id: string; name: string; input: unknown };
      toolCalls.push({ id, type: 'function', function: { name, arguments: JSON.stringify(input ?? {}) } });
    }
  }
  const text = texts.join('');
  return {
    id: msg.id,
    object: 'chat.completion',
    created,
    model: requestedModel,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          // OpenAI sends null content on a pure tool-call turn; clients branch on it.
          content: text || toolCalls.length === 0 ? text : null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          refusal: null,
        },
        finish_reason: mapStopReason(msg.stop_reason),
        logprobs: null,
      },
    ],
    usage: toUsage(msg.usage ?? {}),
  };
}
