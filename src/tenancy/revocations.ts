import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/**
 * Tells every gateway sharing a Redis that a key was revoked or changed (or a tenant deleted or
 * changed), over Redis pub/sub, so each drops it from its in-process key cache before the next
 * request instead of after the cache's TTL. Without Redis there is one gateway, which drops it at once.
 * A message lost while Redis is down is covered by the cache's TTL (`auth.keyCacheTtlMs`).
 */
export async function createRevocationBus(opts: { url: string; keyPrefix: string; log: Logger; onMessage: (message: string) => void }) {
  const channel = `${opts.keyPrefix}auth:changed`;
  const pub = new Redis(opts.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  const sub = new Redis(opts.url, { maxRetriesPerRequest: null, connectTimeout: 2000 });
  pub.on('error', () => {});
  sub.on('error', () => {});
  sub.on('message', (ch: string, message: string) => {
    if (ch === channel) opts.onMessage(message);
  });
  // Subscribing waits for Redis; a gateway started while it is down subscribes when it comes back.
  sub.subscribe(channel).catch((err: unknown) => opts.log.warn({ err: (err as Error).message }, 'key revocations: not subscribed yet; the key cache TTL applies meanwhile'));
  return {
    publish(message: string): void {
      pub.publish(channel, message).catch((err: unknown) => opts.log.warn({ err: (err as Error).message }, 'key revocation not broadcast; other gateways drop the key within the cache TTL'));
    },
    async close(): Promise<void> {
      pub.disconnect();
      sub.disconnect();
    },
  };
}

export type RevocationBus = Awaited<ReturnType<typeof createRevocationBus>>;
