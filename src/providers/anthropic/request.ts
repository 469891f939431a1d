import { badRequest } from '../../errors.js';
import type { ChatMessage, ChatRequest, ContentPart, ResponseFormat, ToolChoice, ToolDefinition } from '../types.js';

/** The subset of the Anthropic Messages request this adapter produces. */
export interface AnthropicTextBlock {
  type: 'text';
  text: string;
}
export interface AnthropicImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
}
export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}
export interface AnthropicToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: Array<AnthropicTextBlock | AnthropicImageBlock>;
}
export type AnthropicBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicToolUseBlock | AnthropicToolResultBlock;
export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}
export type AnthropicToolChoice =
  | { type: 'auto' | 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };
export interface AnthropicRequest {
  model: string;
  messages: AnthropicMessage[];
  max_tokens: number;
  system?: string | AnthropicTextBlock[];
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  metadata?: { user_id: string };
  tools?: Array<{ name: string; description?: string; input_schema: Record<string, unknown> }>;
  tool_choice?: AnthropicToolChoice;
  stream?: boolean;
}

// Anthropic requires max_tokens while OpenAI clients usually omit it; 4096 fits every current
// Claude model's output limit, so an omitted value never turns into an upstream 400.
export const DEFAULT_MAX_TOKENS = 4096;

/** Translates an OpenAI chat-completions request into an Anthropic Messages request. Pure. */
export function toAnthropicRequest(body: ChatRequest): AnthropicRequest {
  if ((body.n ?? 1) > 1) {
    throw badRequest('The Anthropic upstream returns one choice per request; n > 1 is not supported.', 'n', 'unsupported_parameter');
  }
  const system: AnthropicTextBlock[] = [];
  const messages: AnthropicMessage[] = [];
  body.messages.forEach((m, i) => {
    if (m.role === 'system' || m.role === 'developer') {
      // Anthropic has no mid-conversation system turns; all of them move to the top-level prompt.
      const text = partsOf(m, i).map((p) => (p.type === 'text' ? p.text : '')).join('');
      if (text) system.push({ type: 'text', text });
      return;
    }
    const next = toMessage(m, i);
    if (next.content.length > 0) pushMerged(messages, next);
  });
  const instruction = jsonInstruction(body.response_format);
  if (instruction) system.push({ type: 'text', text: instruction });

  const out: AnthropicRequest = {
    model: body.model,
    messages,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
  };
  if (system.length === 1) out.system = system[0]?.text ?? '';
  else if (system.length > 1) out.system = system;
  if (body.stop !== undefined && body.stop !== null) out.stop_sequences = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.temperature !== undefined && body.temperature !== null) out.temperature = body.temperature;
  if (body.top_p !== undefined && body.top_p !== null) out.top_p = body.top_p;
  if (body.user) out.metadata = { user_id: body.user };
  if (body.tools && body.tools.length > 0) {
    out.tools = body.tools.map(toTool);
    const choice = toToolChoice(body.tool_choice, body.parallel_tool_calls === false);
    if (choice) out.tool_choice = choice;
  }
  if (body.stream) out.stream = true;
  return out;
}

function toMessage(m: ChatMessage, i: number): AnthropicMessage {
  if (m.role === 'tool') {
    if (!m.tool_call_id) throw badRequest('A tool message needs the tool_call_id it answers.', `messages[${i}].tool_call_id`);
    const content = partsOf(m, i).map((p, j) => toBlock(p, `messages[${i}].content[${j}]`));
    return { role: 'user', content: [{ type: 'tool_result', tool_use_id: m.tool_call_id, content }] };
  }
  const content: AnthropicBlock[] = partsOf(m, i).map((p, j) => toBlock(p, `messages[${i}].content[${j}]`));
  if (m.role === 'assistant') {
    for (const [j, call] of (m.tool_calls ?? []).entries()) {
      content.push(toToolUse(call, `messages[${i}].tool_calls[${j}].function.arguments`));
    }
  }
  return { role: m.role === 'assistant' ? 'assistant' : 'user', content };
}

/** Content as parts, with empty text dropped: Anthropic rejects empty text blocks. */
function partsOf(m: ChatMessage, i: number): ContentPart[] {
  if (m.content === null || m.content === undefined) return [];
  if (typeof m.content === 'string') return m.content ? [{ type: 'text', text: m.content }] : [];
  if (!Array.isArray(m.content)) throw badRequest('Message content must be a string or an array of parts.', `messages[${i}].content`);
  return m.content.filter((p) => !(p.type === 'text' && !p.text));
}

function toBlock(part: ContentPart, param: string): AnthropicTextBlock | AnthropicImageBlock {
  if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
  if (part.type === 'image_url') {
    const url = (part.image_url as { url?: unknown } | undefined)?.url;
    if (typeof url === 'string') return { type: 'image', source: imageSource(url, `${param}.image_url.url`) };
  }
  throw badRequest(`Content part type '${part.type}' is not supported by the Anthropic upstream.`, param, 'unsupported_parameter');
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageSource(url: string, param: string): AnthropicImageBlock['source'] {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'base64', media_type: data[1] ?? '', data: data[2] ?? '' };
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw badRequest('Image URLs must be http(s) URLs or base64 data: URLs.', param);
}

function toToolUse(call: NonNullable<ChatMessage['tool_calls']>[number], param: string): AnthropicToolUseBlock {
  const raw = call.function.arguments;
  let input: unknown;
  try {
    // Some clients send '' for a call without arguments; Anthropic needs an object either way.
    input = raw ? JSON.parse(raw) : {};
  } catch {
    throw badRequest('Tool call arguments must be valid JSON.', param);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('Tool call arguments must be a JSON object.', param);
  }
  return { type: 'tool_use', id: call.id, name: call.function.name, input: input as Record<string, unknown> };
}

/**
 * Anthropic requires user/assistant alternation, so a turn with the same role as the previous one
 * joins it. Tool results go first in a user turn: Anthropic rejects text before a tool_result.
 */
function pushMerged(messages: AnthropicMessage[], next: AnthropicMessage): void {
  const last = messages[messages.length - 1];
  if (!last || last.role !== next.role) {
    messages.push(next);
    return;
  }
  const all = [...last.content, ...next.content];
  last.content = [...all.filter((b) => b.type === 'tool_result'), ...all.filter((b) => b.type !== 'tool_result')];
}

function toTool(tool: ToolDefinition, i: number): NonNullable<AnthropicRequest['tools']>[number] {
  if (tool.type !== 'function' || !tool.function?.name) {
    throw badRequest('Only function tools are supported by the Anthropic upstream.', `tools[${i}]`, 'unsupported_parameter');
  }
  const { name, description, parameters } = tool.function;
  return {
    name,
    ...(description ? { description } : {}),
    input_schema: parameters ?? { type: 'object', properties: {} },
  };
}

function toToolChoice(choice: ToolChoice | undefined, serial: boolean): AnthropicToolChoice | undefined {
  const extra = serial ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...extra };
  if (typeof choice === 'object' && choice !== null) return { type: 'tool', name: choice.function.name, ...extra };
  // 'auto' is Anthropic's default; it only needs saying to carry the parallel-call flag.
  return serial ? { type: 'auto', ...extra } : choice === 'auto' ? { type: 'auto' } : undefined;
}

/** Anthropic's stable API has no JSON mode, so the response format becomes a system instruction. */
function jsonInstruction(format: ResponseFormat | undefined): string | undefined {
  if (format?.type === 'json_object') {
    return 'Respond with a single valid JSON object only: no prose, no explanations, no Markdown code fences.';
  }
  if (format?.type === 'json_schema') {
    const { name, description, schema } = format.json_schema;
    return [
      `Respond with a single valid JSON value only (no prose, no Markdown code fences) that conforms to the JSON schema "${name}"${description ? ` (${description})` : ''}:`,
      JSON.stringify(schema ?? {}),
    ].join('\n');
  }
  return undefined;
}
