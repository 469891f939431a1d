import type { ChatChunk, ChatCompletion, ChatMessage, FinishReason, ToolCall, Usage } from '../providers/types.js';

/**
 * Rebuilds the assistant message of a streamed answer from its chunks (choice 0), so it can be
 * stored once the stream completes. Tool-call fragments are joined by their index.
 */
export function createStreamAccumulator() {
  let content = '';
  const calls: ToolCall[] = [];
  let finish: FinishReason = null;
  let usage: Usage | undefined;
  let head: Pick<ChatChunk, 'id' | 'created' | 'model'> | undefined;

  const message = (): ChatMessage => {
    const m: ChatMessage = { role: 'assistant', content: content === '' && calls.length > 0 ? null : content };
    const toolCalls = calls.filter(Boolean);
    if (toolCalls.length > 0) m.tool_calls = toolCalls;
    return m;
  };

  return {
    add(chunkJson: string): void {
      const chunk = JSON.parse(chunkJson) as ChatChunk;
      head ??= { id: chunk.id, created: chunk.created, model: chunk.model };
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.find((c) => c.index === 0);
      if (!choice) return;
      if (choice.finish_reason) finish = choice.finish_reason;
      const d = choice.delta;
      if (typeof d?.content === 'string') content += d.content;
      for (const tc of d?.tool_calls ?? []) {
        calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
        const call = calls[tc.index] as ToolCall;
        if (tc.id) call.id = tc.id;
        if (tc.function?.name) call.function.name += tc.function.name;
        if (tc.function?.arguments) call.function.arguments += tc.function.arguments;
      }
    },
    message,
    finishReason: (): FinishReason => finish,
    usage: (): Usage | undefined => usage,
    /** The whole answer as a non-streamed completion would have carried it (for the cache). */
    completion(): ChatCompletion {
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
