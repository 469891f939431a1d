import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noShortTermStore, type ShortTermStore } from '../../src/memory/short-term/port.js';
import { createRedisShortTermStore } from '../../src/memory/short-term/redis.js';
import type { Turn } from '../../src/memory/turns.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueName } from '../helpers/env.js';

const turn = (seq: number): Turn => ({
  seq,
  role: seq % 2 ? 'user' : 'assistant',
  content: `turn ${seq}`,
  fields: null,
  tokenCount: 5,
  tokenEncoding: 'o200k_base',
  externalId: null,
  createdAt: new Date(seq * 1000).toISOString(),
});
const seqs = (r: { turns: Turn[] } | undefined) => r?.turns.map((t) => t.seq);

describe('ShortTermStore: Redis', () => {
  const prefix = `${uniqueName('st')}:`;
  let store: ShortTermStore;
  beforeAll(async () => {
    store = await createRedisShortTermStore({ url: TEST_REDIS_URL, keyPrefix: prefix, maxTurns: 4, commandTimeoutMs: 500 });
  });
  afterAll(async () => {
    await store.close();
    await deleteRedisKeys(prefix);
  });

  it('misses an unknown session, then serves what was filled, with its seq', async () => {
    expect(await store.recent('t', 'a')).toBeUndefined();
    await store.fill('t', 'a', [turn(1), turn(2)], 2);
    expect(await store.recent('t', 'a')).toMatchObject({ lastSeq: 2, turns: [turn(1), turn(2)] });
  });

  it('remembers an empty session as known (seq 0)', async () => {
    await store.fill('t', 'empty', [], 0);
    expect(await store.recent('t', 'empty')).toEqual({ turns: [], lastSeq: 0 });
  });

  it('appends contiguous turns and keeps only the newest maxTurns', async () => {
    await store.fill('t', 'b', [turn(1), turn(2)], 2);
    await store.append('t', 'b', [turn(3), turn(4)]);
    await store.append('t', 'b', [turn(5), turn(6)]);
    const r = await store.recent('t', 'b');
    expect(seqs(r)).toEqual([3, 4, 5, 6]);
    expect(r?.lastSeq).toBe(6);
  });

  it('drops the copy when an append is not contiguous (a write was lost)', async () => {
    await store.fill('t', 'c', [turn(1), turn(2)], 2);
    await store.append('t', 'c', [turn(5), turn(6)]);
    expect(await store.recent('t', 'c')).toBeUndefined();
  });

  it('does not create a copy on append to an unknown session', async () => {
    await store.append('t', 'd', [turn(1), turn(2)]);
    expect(await store.recent('t', 'd')).toBeUndefined();
  });

  it('keeps tenants apart and drops on request', async () => {
    await store.fill('t1', 'same', [turn(1)], 1);
    await store.fill('t2', 'same', [turn(1), turn(2)], 2);
    expect(seqs(await store.recent('t1', 'same'))).toEqual([1]);
    await store.drop('t2', 'same');
    expect(await store.recent('t2', 'same')).toBeUndefined();
    expect(seqs(await store.recent('t1', 'same'))).toEqual([1]);
  });

  it('fails fast (no hang) when Redis is unreachable', async () => {
    const dead = await createRedisShortTermStore({ url: 'redis://127.0.0.1:9', keyPrefix: prefix, maxTurns: 4, commandTimeoutMs: 100 });
    try {
      await expect(dead.recent('t', 'a')).rejects.toThrow();
      await expect(dead.ping()).rejects.toThrow();
    } finally {
      await dead.close();
    }
  });
});

describe('ShortTermStore: none (SQL-only mode)', () => {
  it('always misses, so every read goes to SQL', async () => {
    await noShortTermStore.fill('t', 'a', [turn(1)], 1);
    expect(await noShortTermStore.recent('t', 'a')).toBeUndefined();
  });
});
