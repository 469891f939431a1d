import type { ChatChunk, ChatMessage, FinishReason, ToolCall, Usage } from '../providers/types.js';

/**
 * Rebuilds the assistant message of a streamed answer from its chunks (choice 0), so it can be
 * stored once the stream completes. Tool-call fragments are joined by their index.
 */
export function createStreamAccumulator() {
  let content = '';
  const calls: ToolCall[] = [];
  let finish: FinishReason = null;
  let usage: Usage | undefined;

  return {
    add(chunkJson: string): void {
      const chunk = JSON.parse(chunkJson) as ChatChunk;
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
    message(): ChatMessage {
      const m: ChatMessage = { role: 'assistant', content: content === '' && calls.length > 0 ? null : content };
      const toolCalls = calls.filter(Boolean);
      if (toolCalls.length > 0) m.tool_calls = toolCalls;
      return m;
    },
    finishReason: (): FinishReason => finish,
    usage: (): Usage | undefined => usage,
  };
}
