import type { ChatChunk, ChatCompletion, ChatMessage, FinishReason, ToolCall, Usage } from '../providers/types.js';

/**
 * Keeps a streamed answer's chunks (the `data:` JSON of each event) and rebuilds from them, on
 * demand, what the gateway needs once the stream has ended: the assistant message (choice 0, tool
 * calls joined by their index) for a session or the cache, the usage the upstream reported, and the
 * answer's text for metering.
 *
 * Nothing is parsed while the stream runs. A pass-through stream needs only its usage, or, when the
 * upstream reports none, its text to count; `text()` reads plain content deltas without building the
 * chunk objects, so metering does not allocate a parsed copy of every chunk. `message()` reads a
 * text-only answer (a session's usual turn) the same way, and parses only when a chunk needs it.
 */
export function createStreamAccumulator() {
  const chunks: string[] = [];
  let parsed: Parsed | undefined;
  let usageRead: { count: number; usage: Usage | undefined } | undefined;

  const whole = (): Parsed => {
    if (!parsed || parsed.count !== chunks.length) parsed = parse(chunks);
    return parsed;
  };

  // The answer's text read without parsing (undefined: some chunk needs parsing), and whether a chunk
  // names tool calls; kept for the chunks read so far.
  let plain: { count: number; text: string | undefined; calls: boolean } | undefined;
  const plainText = (): { text: string | undefined; calls: boolean } => {
    if (plain?.count !== chunks.length) {
      let text: string | undefined = '';
      let calls = false;
      for (const data of chunks) {
        const fast = plainDeltaContent(data);
        if (fast === undefined) {
          text = undefined;
          break;
        }
        text += fast;
        // A real key only: inside a JSON string the quotes would be escaped.
        if (!calls && data.includes('"tool_calls"')) calls = true;
      }
      plain = { count: chunks.length, text, calls };
    }
    return plain;
  };

  const message = (): ChatMessage => {
    // A text-only answer (a session's usual turn) is read without parsing every chunk.
    if (parsed?.count !== chunks.length) {
      const fast = plainText();
      if (fast.text !== undefined && !fast.calls) return { role: 'assistant', content: fast.text };
    }
    const { content, calls } = whole();
    const m: ChatMessage = { role: 'assistant', content: content === '' && calls.length > 0 ? null : content };
    const toolCalls = calls.filter(Boolean);
    if (toolCalls.length > 0) m.tool_calls = toolCalls;
    return m;
  };

  return {
    add(chunkJson: string): void {
      chunks.push(chunkJson);
    },
    message,
    finishReason: (): FinishReason => whole().finish,
    /** The last usage the upstream reported (OpenAI sends it in a final chunk), without parsing the rest. */
    usage(): Usage | undefined {
      if (usageRead?.count !== chunks.length) usageRead = { count: chunks.length, usage: lastUsage(chunks) };
      return usageRead.usage;
    },
    /** The answer's text (choice 0's content), as `message().content` would give it. */
    text(): string {
      if (parsed?.count === chunks.length) return parsed.content;
      return plainText().text ?? whole().content;
    },
    /** The whole answer as a non-streamed completion would have carried it (for the cache). */
    completion(): ChatCompletion {
      const { head, finish } = whole();
      const usage = this.usage();
      const m = message();
      return {
        id: head?.id ?? '',
        object: 'chat.completion',
        created: head?.created ?? Math.floor(Date.now() / 1000),
        model: head?.model ?? '',
        choices: [{ index: 0, message: { role: 'assistant', content: m.content as string | null, ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}) }, finish_reason: finish }],
        ...(usage ? { usage } : {}),
      };
    },
  };
}

export type StreamAccumulator = ReturnType<typeof createStreamAccumulator>;

function lastUsage(chunks: readonly string[]): Usage | undefined {
  for (let i = chunks.length - 1; i >= 0; i--) {
    const data = chunks[i] as string;
    if (!data.includes('"usage":{')) continue;
    const usage = (JSON.parse(data) as ChatChunk).usage;
    if (usage) return usage;
  }
  return undefined;
}

interface Parsed {
  /** How many chunks this was parsed from (more may arrive after a read). */
  count: number;
  content: string;
  calls: ToolCall[];
  finish: FinishReason;
  head: Pick<ChatChunk, 'id' | 'created' | 'model'> | undefined;
}

function parse(chunks: readonly string[]): Parsed {
  const out: Parsed = { count: chunks.length, content: '', calls: [], finish: null, head: undefined };
  for (const data of chunks) {
    const chunk = JSON.parse(data) as ChatChunk;
    out.head ??= { id: chunk.id, created: chunk.created, model: chunk.model };
    const choice = chunk.choices?.find((c) => c.index === 0);
    if (!choice) continue;
    if (choice.finish_reason) out.finish = choice.finish_reason;
    const d = choice.delta;
    if (typeof d?.content === 'string') out.content += d.content;
    for (const tc of d?.tool_calls ?? []) {
      out.calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
      const call = out.calls[tc.index] as ToolCall;
      if (tc.id) call.id = tc.id;
      if (tc.function?.name) call.function.name += tc.function.name;
      if (tc.function?.arguments) call.function.arguments += tc.function.arguments;
    }
  }
  return out;
}

const CONTENT_KEY = '"content":';
const CHOICE_0 = '"choices":[{"index":0,';

/**
 * The text a chunk adds to choice 0's content, read without parsing the chunk, or `undefined` when
 * the chunk is not the plain shape this can read for certain (the caller then parses).
 *
 * Plain means: one choice, written `"choices":[{"index":0,` as OpenAI, vLLM and Ollama write it, and at most one `content` key anywhere in the chunk, whose
 * value is a string or null. Inside a JSON string every `"` is escaped, so `"content":` can only be a
 * key (and one `"index":` means one choice); the value ends at the first quote not escaped by an odd
 * run of backslashes.
 */
export function plainDeltaContent(data: string): string | undefined {
  const first = data.indexOf('"index":');
  if (first === -1) return data.includes('"choices":[]') ? '' : undefined;
  if (!data.startsWith(CHOICE_0, first - 12) || data.indexOf('"index":', first + 1) !== -1) return undefined;
  const at = data.indexOf(CONTENT_KEY, 0);
  if (at === -1) return '';
  if (data.indexOf(CONTENT_KEY, at + 1) !== -1) return undefined;
  const start = at + CONTENT_KEY.length;
  if (data.startsWith('null', start)) return '';
  if (data.charCodeAt(start) !== 34) return undefined; // not a string: an array of parts
  let end = data.indexOf('"', start + 1);
  while (end !== -1) {
    let backslashes = 0;
    while (data.charCodeAt(end - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) break;
    end = data.indexOf('"', end + 1);
  }
  if (end === -1) return undefined;
  const backslash = data.indexOf('\\', start + 1);
  return backslash !== -1 && backslash < end ? (JSON.parse(data.slice(start, end + 1)) as string) : data.slice(start + 1, end);
}
