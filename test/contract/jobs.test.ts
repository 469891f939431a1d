import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createBullmqJobQueue } from '../../src/jobs/bullmq.js';
import { createLocalJobQueue } from '../../src/jobs/local.js';
import type { JobQueue } from '../../src/jobs/port.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueName } from '../helpers/env.js';
import { jobQueueContract } from './jobs.contract.js';

const log = pino({ level: 'silent' });
// Every case gets its own prefix under this run's, so cases never see each other's jobs.
const runPrefix = `${uniqueName('jobs')}:`;
const prefixes = new WeakMap<JobQueue, string>();
let cases = 0;

async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found;
  } finally {
    redis.disconnect();
  }
}

afterAll(async () => {
  await deleteRedisKeys(runPrefix);
  expect(await keysUnder(runPrefix)).toEqual([]);
});

jobQueueContract('local (in process)', {
  open: async () => createLocalJobQueue({ log }),
});

jobQueueContract('BullMQ (real Redis, a unique key prefix per case)', {
  async open() {
    const prefix = `${runPrefix}${++cases}:`;
    const q = createBullmqJobQueue({ url: TEST_REDIS_URL, prefix, log });
    prefixes.set(q, prefix);
    return q;
  },
  async openSecond(first) {
    const prefix = prefixes.get(first);
    if (!prefix) throw new Error('openSecond: unknown first queue');
    return createBullmqJobQueue({ url: TEST_REDIS_URL, prefix, log });
  },
});

describe('BullMQ job queue without Redis', () => {
  it('rejects an enqueue instead of hanging, and closes cleanly', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // Port 1 is closed: every connection attempt is refused.
    const q = createBullmqJobQueue({ url: 'redis://127.0.0.1:1', prefix: `${runPrefix}down:`, log });
    try {
      q.define('index', async () => {});
      await q.start();
      await expect(q.enqueue('index', {}, { key: 'k' })).rejects.toMatchObject({ code: 'job_queue_unavailable', status: 503 });
      await expect(q.counts()).rejects.toMatchObject({ code: 'job_queue_unavailable' });
      expect(await q.idle(300)).toBe(false);
    } finally {
      await q.close();
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  }, 20_000);

  it('keeps its keys under the gateway prefix', async () => {
    const prefix = `${runPrefix}layout:`;
    const q = createBullmqJobQueue({ url: TEST_REDIS_URL, prefix, log });
    try {
      q.define('index', async () => {});
      await q.enqueue('index', {}, { key: 'k', delayMs: 60_000 });
      const keys = await keysUnder(prefix);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((k) => !k.startsWith(`${prefix}jobs:index:`))).toEqual([]);
    } finally {
      await q.close();
    }
  });
});
