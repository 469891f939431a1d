import { GatewayError } from '../../errors.js';
import { UPSTREAM_CODES, redactSecrets } from '../http.js';
import type { SseEvent } from '../sse.js';
import type { ChatChunk, FinishReason, Usage } from '../types.js';
import { type AnthropicUsage, mapStopReason, nowSeconds, toUsage } from './response.js';

export interface TranslateStreamOptions {
  /** The request's `stream_options.include_usage`: emit OpenAI's final `choices: []` usage chunk. */
  includeUsage?: boolean;
  created?: number;
}

/** The fields of Anthropic stream events this translation reads. */
interface AnthropicStreamEvent {
  type: string;
  index?: number;
  message?: { id?: string; usage?: AnthropicUsage };
  content_block?: { type: string; id?: string; name?: string; text?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

type Delta = ChatChunk['choices'][number]['delta'];

/**
 * Translates Anthropic Messages stream events into OpenAI chat-completion chunks (JSON text).
 * Anthropic numbers content blocks across text and tool_use; OpenAI numbers tool calls alone,
 * hence the block-index → tool-index map. The route writes the closing `[DONE]`.
 */
export async function* translateStream(
  events: AsyncIterable<SseEvent>,
  model: string,
  opts: TranslateStreamOptions = {},
): AsyncGenerator<string> {
  const created = opts.created ?? nowSeconds();
  let id = '';
  let usage: AnthropicUsage = {};
  let finished = false;
  const toolIndexByBlock = new Map<number, number>();
  const chunk = (delta: Delta, finish: FinishReason = null): string =>
    JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    } satisfies ChatChunk);

  for await (const sse of events) {
    const ev = parseEvent(sse);
    switch (ev.type) {
      case 'message_start':
        id = ev.message?.id ?? '';
        usage = { ...ev.message?.usage };
        yield chunk({ role: 'assistant', content: '' });
        break;
      case 'content_block_start': {
        const block = ev.content_block;
        if (block?.type === 'tool_use') {
          const index = toolIndexByBlock.size;
          toolIndexByBlock.set(ev.index ?? -1, index);
          yield chunk({
            tool_calls: [{ index, id: block.id ?? '', type: 'function', function: { name: block.name ?? '', arguments: '' } }],
          });
        } else if (block?.type === 'text' && block.text) {
          yield chunk({ content: block.text });
        }
        break;
      }
      case 'content_block_delta': {
        const d = ev.delta;
        if (d?.type === 'text_delta' && d.text) yield chunk({ content: d.text });
        else if (d?.type === 'input_json_delta' && d.partial_json) {
          const index = toolIndexByBlock.get(ev.index ?? -1);
          if (index !== undefined) yield chunk({ tool_calls: [{ index, function: { arguments: d.partial_json } }] });
        }
        break;
      }
      case 'message_delta':
        finished = true;
        usage = mergeUsage(usage, ev.usage);
        yield chunk({}, mapStopReason(ev.delta?.stop_reason) ?? 'stop');
        if (opts.includeUsage) yield usageChunk(id, created, model, toUsage(usage));
        break;
      case 'error':
        throw streamError(ev.error);
      default:
        // ping, content_block_stop, message_stop, thinking deltas: nothing an OpenAI client sees.
        break;
    }
  }
  if (!finished) {
    // Without message_delta the client would never see a finish_reason: a cut stream, not an answer.
    throw new GatewayError('The upstream anthropic stream ended before the message was finished.', {
      status: 502,
      code: UPSTREAM_CODES.badResponse,
      category: 'upstream',
    });
  }
}

function parseEvent(sse: SseEvent): AnthropicStreamEvent {
  try {
    const parsed = JSON.parse(sse.data) as AnthropicStreamEvent;
    // The data carries its own `type`; the SSE event name is the fallback.
    return { ...parsed, type: parsed.type ?? sse.event ?? '' };
  } catch {
    throw new GatewayError('The upstream anthropic sent a stream event that is not JSON.', {
      status: 502,
      code: UPSTREAM_CODES.badResponse,
      category: 'upstream',
    });
  }
}

/** message_delta usage is cumulative; its null fields mean "unchanged since message_start". */
function mergeUsage(start: AnthropicUsage, delta: AnthropicUsage | undefined): AnthropicUsage {
  const out: AnthropicUsage = { ...start };
  for (const [k, v] of Object.entries(delta ?? {})) {
    if (typeof v === 'number') out[k as keyof AnthropicUsage] = v;
  }
  return out;
}

function usageChunk(id: string, created: number, model: string, usage: Usage): string {
  return JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage } satisfies ChatChunk);
}

const RATE_LIMIT_TYPES = new Set(['overloaded_error', 'rate_limit_error']);

function streamError(error: AnthropicStreamEvent['error']): GatewayError {
  const type = error?.type ?? 'api_error';
  const detail = error?.message ? `: ${redactSecrets(error.message).slice(0, 500)}` : '';
  return new GatewayError(`The upstream anthropic failed mid-stream (${type})${detail}`, {
    status: 502,
    code: RATE_LIMIT_TYPES.has(type) ? UPSTREAM_CODES.rateLimited : UPSTREAM_CODES.serverError,
    category: 'upstream',
    details: { upstream_error_type: type },
  });
}
