import { GatewayError } from '../../errors.js';
import type { ChatRequest } from '../types.js';
import type { Router } from './router.js';

/**
 * One completion for the gateway's own use (summaries, facts): a model alias through the router —
 * its targets, fallbacks and retries — within `timeoutMs`, answered as text. An answer without text
 * is an upstream error, so the job that asked fails and is retried.
 */
export async function completeText(
  router: Router,
  alias: string,
  body: Pick<ChatRequest, 'messages' | 'temperature' | 'max_tokens' | 'response_format'>,
  timeoutMs: number,
): Promise<string> {
  const attempt = await router.run(router.resolve(alias), AbortSignal.timeout(timeoutMs), (provider, target, signal) =>
    provider.complete({ body: { ...body, model: target.model }, signal }),
  );
  attempt.dispose();
  const content = attempt.result.choices[0]?.message.content;
  const text = typeof content === 'string' ? content.trim() : '';
  if (!text) throw new GatewayError(`the model "${alias}" answered without text`, { status: 502, code: 'upstream_error', category: 'upstream' });
  return text;
}
