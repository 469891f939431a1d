import type { Logger } from 'pino';
import { createLocalJobQueue } from './local.js';
import type { JobQueue } from './port.js';

/**
 * The configured `JobQueue`: BullMQ when a Redis URL is set (jobs shared by every gateway and
 * worker process), the in-process runner otherwise (the embedded default). BullMQ is imported
 * lazily, so the embedded default never loads it.
 */
export async function createJobQueue(config: { redisUrl?: string; keyPrefix: string; lockMs?: number }, log: Logger): Promise<JobQueue> {
  if (!config.redisUrl) return createLocalJobQueue({ log });
  const { createBullmqJobQueue } = await import('./bullmq.js');
  return createBullmqJobQueue({ url: config.redisUrl, prefix: config.keyPrefix, log, ...(config.lockMs ? { lockMs: config.lockMs } : {}) });
}
