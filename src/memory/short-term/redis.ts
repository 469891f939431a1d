import { Redis } from 'ioredis';
import type { Turn } from '../turns.js';
import type { ShortTermStore } from './port.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  /** Turns kept per session. */
  maxTurns: number;
  commandTimeoutMs: number;
}

// A session idle for a day leaves Redis; it is rebuilt from SQL when it comes back.
const HOT_TTL_MS = 24 * 60 * 60 * 1000;

// Both scripts keep list and seq key in step, atomically. `append` only extends a copy whose
// newest seq is right before the new turns; anything else (a lost write, a racing rebuild) drops
// the copy. Readers compare the seq key with SQL anyway (session-memory.ts), so a stale `fill`
// costs one more rebuild, never a wrong history.
const APPEND = `
local last = redis.call('GET', KEYS[2])
if not last then return 0 end
if tonumber(last) ~= tonumber(ARGV[1]) - 1 then redis.call('DEL', KEYS[1], KEYS[2]) return -1 end
for i = 5, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

const FILL = `
redis.call('DEL', KEYS[1])
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if #ARGV >= 3 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

type ScriptedRedis = Redis & {
  stAppend(listKey: string, seqKey: string, ...args: (string | number)[]): Promise<number>;
  stFill(listKey: string, seqKey: string, ...args: (string | number)[]): Promise<number>;
};

/** Keys a SCAN step looks at: large enough for few round trips, small enough not to stall Redis. */
const SCAN_COUNT = 1000;

/** `s` matched literally by a SCAN MATCH glob. */
const globLiteral = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');

// How long start-up waits for a first Redis connection before serving from SQL alone.
const CONNECT_WAIT_MS = 3000;

/**
 * The Redis adapter (ioredis): a list of turn JSON per session plus its newest seq. Resolves once
 * connected, or after CONNECT_WAIT_MS without Redis (the gateway then starts degraded, and
 * ioredis keeps reconnecting in the background).
 */
export async function createRedisShortTermStore(opts: RedisStoreOptions): Promise<ShortTermStore> {
  const redis = new Redis(opts.url, {
    // Fail fast instead of queueing while Redis is away: SQL answers meanwhile.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: 2000,
    lazyConnect: false,
    // Commands issued in one tick (the appends of requests answered together) leave in one write.
    enableAutoPipelining: true,
  }) as ScriptedRedis;
  // Errors surface on each command; the connection keeps retrying in the background.
  redis.on('error', () => {});
  redis.defineCommand('stAppend', { numberOfKeys: 2, lua: APPEND });
  redis.defineCommand('stFill', { numberOfKeys: 2, lua: FILL });
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CONNECT_WAIT_MS);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // The hash tag keeps both keys of a session in one Redis Cluster slot.
  const keys = (tenantId: string, sessionId: string): [string, string] => {
    const base = `${opts.keyPrefix}st:{${tenantId}:${sessionId}}`;
    return [base, `${base}:seq`];
  };

  return {
    kind: 'redis',
    async recent(tenantId, sessionId) {
      const [list, seq] = keys(tenantId, sessionId);
      const res = await redis.multi().get(seq).lrange(list, 0, -1).exec();
      const lastSeq = res?.[0]?.[1];
      if (lastSeq == null) return undefined;
      const items = (res?.[1]?.[1] ?? []) as string[];
      return { turns: items.map((s) => JSON.parse(s) as Turn), lastSeq: Number(lastSeq) };
    },
    async fill(tenantId, sessionId, turns, lastSeq) {
      const [list, seq] = keys(tenantId, sessionId);
      const kept = turns.slice(-opts.maxTurns).map((t) => JSON.stringify(t));
      await redis.stFill(list, seq, lastSeq, HOT_TTL_MS, ...kept);
    },
    async append(tenantId, sessionId, turns) {
      const first = turns[0];
      const last = turns[turns.length - 1];
      if (!first || !last) return;
      const [list, seq] = keys(tenantId, sessionId);
      await redis.stAppend(list, seq, first.seq, last.seq, opts.maxTurns, HOT_TTL_MS, ...turns.map((t) => JSON.stringify(t)));
    },
    async drop(tenantId, sessionId) {
      await redis.del(...keys(tenantId, sessionId));
    },
    async dropAll({ tenantId, onBatch } = {}) {
      const pattern = `${globLiteral(opts.keyPrefix)}st:{${tenantId === undefined ? '' : `${globLiteral(tenantId)}:`}*`;
      let cursor = '0';
      let dropped = 0;
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        cursor = next;
        // UNLINK frees the memory off Redis's main thread.
        if (found.length > 0) dropped += await redis.unlink(...found);
        onBatch?.(dropped);
      } while (cursor !== '0');
      return dropped;
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
}
