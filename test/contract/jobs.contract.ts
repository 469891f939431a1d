import { describe, expect, it } from 'vitest';
import type { JobHandler, JobQueue } from '../../src/jobs/port.js';

/**
 * The conformance suite every `JobQueue` adapter passes. `open` returns a fresh, empty queue (its
 * own namespace); `openSecond` a second queue on the same namespace where the adapter allows it
 * (BullMQ: a second process sharing Redis).
 */
export function jobQueueContract(name: string, hooks: { open(): Promise<JobQueue>; openSecond?: (first: JobQueue) => Promise<JobQueue> }) {
  describe(`JobQueue contract: ${name}`, () => {
    const withQueue = async (fn: (q: JobQueue) => Promise<void>) => {
      const q = await hooks.open();
      try {
        await fn(q);
      } finally {
        await q.close();
      }
    };

    it('runs a job with its data, whatever characters its key has', () =>
      withQueue(async (q) => {
        const seen: unknown[] = [];
        q.define<{ n: number; s: string }>('index', async (data, info) => {
          seen.push({ data, info });
        });
        await q.start();
        const keys = ['s1', 'tenant:1/sess.2*?[x]', '42'];
        for (const [n, key] of keys.entries()) await q.enqueue('index', { n, s: 'héllo' }, { key });
        expect(await q.idle(10_000)).toBe(true);
        expect(seen).toHaveLength(3);
        expect(seen).toEqual(expect.arrayContaining(keys.map((key, n) => ({ data: { n, s: 'héllo' }, info: { attempt: 1, key } }))));
      }));

    it('keeps one waiting job per key: repeated enqueues are no-ops and the first data is kept', () =>
      withQueue(async (q) => {
        const runs: unknown[] = [];
        q.define<{ n: number }>('index', async (data) => {
          runs.push(data.n);
        });
        for (let n = 0; n < 5; n++) await q.enqueue('index', { n }, { key: 'same' });
        expect((await q.counts()).index).toMatchObject({ waiting: 1 });
        await q.start();
        expect(await q.idle(10_000)).toBe(true);
        expect(runs).toEqual([0]);
      }));

    it('runs a key at most twice for a burst of enqueues, never twice at once', () =>
      withQueue(async (q) => {
        let active = 0;
        let overlap = 0;
        let runs = 0;
        q.define('index', async () => {
          runs++;
          if (++active > 1) overlap++;
          await sleep(50);
          active--;
        });
        await q.start();
        await Promise.all(Array.from({ length: 5 }, (_, n) => q.enqueue('index', { n }, { key: 'burst' })));
        expect(await q.idle(10_000)).toBe(true);
        expect(overlap).toBe(0);
        expect(runs).toBeGreaterThanOrEqual(1);
        expect(runs).toBeLessThanOrEqual(2);
      }));

    it('runs a key once more after the active run when it is enqueued during it, with the newest data', () =>
      withQueue(async (q) => {
        const first = gate();
        const runs: number[] = [];
        let active = 0;
        let overlap = 0;
        q.define<{ v: number }>('index', async (data) => {
          if (++active > 1) overlap++;
          runs.push(data.v);
          if (data.v === 1) await first.wait();
          active--;
        });
        await q.start();
        await q.enqueue('index', { v: 1 }, { key: 'k' });
        await until(() => runs.length === 1);
        for (const v of [2, 3, 4]) await q.enqueue('index', { v }, { key: 'k' });
        await sleep(100);
        expect(runs).toEqual([1]);
        first.open();
        expect(await q.idle(10_000)).toBe(true);
        expect(runs).toEqual([1, 4]);
        expect(overlap).toBe(0);
      }));

    it('retries a failing job with backoff until it succeeds', () =>
      withQueue(async (q) => {
        const attempts: { attempt: number; at: number }[] = [];
        q.define(
          'flaky',
          async (_data, info) => {
            attempts.push({ attempt: info.attempt, at: Date.now() });
            if (info.attempt < 3) throw new Error(`not yet (${info.attempt})`);
          },
          { attempts: 5, backoffMs: 20 },
        );
        await q.start();
        await q.enqueue('flaky', {}, { key: 'f' });
        expect(await q.idle(10_000)).toBe(true);
        expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
        // Not before the backoff: 20 ms, then 40 ms, each jittered down by at most half.
        const [a1, a2, a3] = attempts.map((a) => a.at) as [number, number, number];
        expect(a2 - a1).toBeGreaterThanOrEqual(9);
        expect(a3 - a2).toBeGreaterThanOrEqual(19);
        await until(async () => (await q.counts()).flaky?.completed === 1);
        expect((await q.counts()).flaky).toMatchObject({ failed: 0, waiting: 0, delayed: 0, active: 0 });
        expect(await q.failed(10)).toEqual([]);
      }));

    it('keeps a job that exhausted its attempts as failed, until its key is enqueued again', () =>
      withQueue(async (q) => {
        let broken = true;
        const runs: { data: unknown; attempt: number }[] = [];
        q.define(
          'fragile',
          async (data, info) => {
            runs.push({ data, attempt: info.attempt });
            if (broken) throw new Error(`boom ${info.attempt}`);
          },
          { attempts: 2, backoffMs: 20 },
        );
        await q.start();
        await q.enqueue('fragile', { v: 1 }, { key: 'doc:7' });
        await q.enqueue('fragile', { v: 1 }, { key: 'other' });
        expect(await q.idle(10_000)).toBe(true);
        const failed = await q.failed(10);
        expect(failed).toHaveLength(2);
        expect(failed.find((f) => f.key === 'doc:7')).toMatchObject({ kind: 'fragile', key: 'doc:7', data: { v: 1 }, error: 'boom 2', attempts: 2 });
        for (const f of failed) expect(Number.isNaN(Date.parse(f.failed_at))).toBe(false);
        expect(await q.failed(1)).toHaveLength(1);
        expect((await q.counts()).fragile).toMatchObject({ failed: 2, waiting: 0, delayed: 0, active: 0 });

        broken = false;
        runs.length = 0;
        await q.enqueue('fragile', { v: 2 }, { key: 'doc:7' });
        expect((await q.failed(10)).map((f) => f.key)).toEqual(['other']);
        expect(await q.idle(10_000)).toBe(true);
        expect(runs).toEqual([{ data: { v: 2 }, attempt: 1 }]);
        expect((await q.counts()).fragile).toMatchObject({ failed: 1 });
      }));

    it('runs at most `concurrency` jobs of a kind at once', () =>
      withQueue(async (q) => {
        let active = 0;
        let max = 0;
        let runs = 0;
        q.define(
          'parallel',
          async () => {
            max = Math.max(max, ++active);
            await sleep(100);
            active--;
            runs++;
          },
          { concurrency: 2 },
        );
        for (let i = 0; i < 6; i++) await q.enqueue('parallel', { i }, { key: `p${i}` });
        await q.start();
        expect(await q.idle(15_000)).toBe(true);
        expect(runs).toBe(6);
        expect(max).toBe(2);
      }));

    it('runs a delayed job no earlier than its delay', () =>
      withQueue(async (q) => {
        let ranAt = 0;
        q.define('later', async () => {
          ranAt = Date.now();
        });
        await q.start();
        const t0 = Date.now();
        await q.enqueue('later', {}, { key: 'd', delayMs: 300 });
        expect((await q.counts()).later).toMatchObject({ delayed: 1, waiting: 0 });
        expect(await q.idle(10_000)).toBe(true);
        expect(ranAt).toBeGreaterThan(0);
        expect(ranAt - t0).toBeGreaterThanOrEqual(300);
      }));

    it('counts jobs per kind and state', () =>
      withQueue(async (q) => {
        const hold = gate();
        q.define('a', async () => {});
        q.define('b', () => hold.wait());
        await q.enqueue('a', {}, { key: 'now' });
        await q.enqueue('a', {}, { key: 'later', delayMs: 60_000 });
        await q.enqueue('b', {}, { key: 'x' });
        const zero = { active: 0, completed: 0, failed: 0 };
        expect(await q.counts()).toEqual({ a: { ...zero, waiting: 1, delayed: 1 }, b: { ...zero, waiting: 1, delayed: 0 } });
        await q.start();
        await until(async () => {
          const c = await q.counts();
          return c.a?.completed === 1 && c.b?.active === 1;
        });
        expect(await q.counts()).toEqual({
          a: { waiting: 0, delayed: 1, active: 0, completed: 1, failed: 0 },
          b: { waiting: 0, delayed: 0, active: 1, completed: 0, failed: 0 },
        });
        hold.open();
        await until(async () => (await q.counts()).b?.completed === 1);
        expect((await q.counts()).b).toMatchObject({ active: 0, waiting: 0 });
      }));

    it('reports idle only when nothing waits, is delayed or runs', () =>
      withQueue(async (q) => {
        expect(await q.idle(1_000)).toBe(true);
        const hold = gate();
        q.define('slow', () => hold.wait());
        await q.start();
        await q.enqueue('slow', {}, { key: 's' });
        expect(await q.idle(200)).toBe(false);
        hold.open();
        expect(await q.idle(10_000)).toBe(true);
        await q.enqueue('slow', {}, { key: 's2', delayMs: 60_000 });
        expect(await q.idle(200)).toBe(false);
      }));

    it('lets a running handler finish on close, then refuses new jobs', async () => {
      const q = await hooks.open();
      let started = false;
      let finished = false;
      q.define('long', async () => {
        started = true;
        await sleep(300);
        finished = true;
      });
      await q.start();
      await q.enqueue('long', {}, { key: 'l' });
      await until(() => started);
      await q.close();
      expect(finished).toBe(true);
      await expect(q.enqueue('long', {}, { key: 'l2' })).rejects.toMatchObject({ code: 'job_queue_closed' });
      await q.close();
    });

    it('never lets a handler error escape as an unhandled rejection', () =>
      withQueue(async (q) => {
        const unhandled: unknown[] = [];
        const onUnhandled = (reason: unknown) => unhandled.push(reason);
        process.on('unhandledRejection', onUnhandled);
        try {
          const throwers: Record<string, JobHandler<unknown>> = {
            sync: (() => {
              throw new Error('thrown synchronously');
            }) as unknown as JobHandler<unknown>,
            error: async () => {
              throw new Error('rejected');
            },
            string: () => Promise.reject('a bare string'),
            nothing: () => Promise.reject(undefined),
          };
          for (const [kind, handler] of Object.entries(throwers)) q.define(kind, handler, { attempts: 2, backoffMs: 10 });
          await q.start();
          for (const kind of Object.keys(throwers)) await q.enqueue(kind, {}, { key: 'e' });
          expect(await q.idle(10_000)).toBe(true);
          await sleep(50);
          const errors = Object.fromEntries((await q.failed(10)).map((f) => [f.kind, f.error]));
          expect(errors).toEqual({ sync: 'thrown synchronously', error: 'rejected', string: 'a bare string', nothing: 'undefined' });
          expect(unhandled).toEqual([]);
        } finally {
          process.off('unhandledRejection', onUnhandled);
        }
      }));

    if (hooks.openSecond) {
      const openSecond = hooks.openSecond;

      it('two processes never run one key at once, and run each job once', () =>
        withQueue(async (a) => {
          const b = await openSecond(a);
          try {
            const running = new Set<string>();
            const runs = new Map<string, number>();
            let overlap = 0;
            const handler: JobHandler<{ key: string }> = async ({ key }) => {
              if (running.has(key)) overlap++;
              running.add(key);
              runs.set(key, (runs.get(key) ?? 0) + 1);
              await sleep(30);
              running.delete(key);
            };
            for (const q of [a, b]) q.define('shared', handler, { concurrency: 3 });
            await Promise.all([a.start(), b.start()]);

            // Each key enqueued once, from either process: each runs exactly once.
            const once = Array.from({ length: 12 }, (_, i) => `once${i}`);
            await Promise.all(once.map((key, i) => (i % 2 ? a : b).enqueue('shared', { key }, { key })));
            expect(await a.idle(15_000)).toBe(true);
            expect(once.map((key) => runs.get(key))).toEqual(once.map(() => 1));

            // Each key enqueued by both, repeatedly, while running: never two runs at once.
            const both = Array.from({ length: 6 }, (_, i) => `both${i}`);
            for (let round = 0; round < 3; round++) {
              await Promise.all(both.flatMap((key) => [a.enqueue('shared', { key }, { key }), b.enqueue('shared', { key }, { key })]));
              await sleep(10);
            }
            expect(await a.idle(15_000)).toBe(true);
            expect(await b.idle(15_000)).toBe(true);
            expect(overlap).toBe(0);
            for (const key of both) expect(runs.get(key)).toBeGreaterThanOrEqual(1);
          } finally {
            await b.close();
          }
        }));
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `cond` until it holds; a bounded wait, not a speed assertion. */
async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** A promise a test opens by hand: holds a handler until the test has looked. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open = () => {};
  const p = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait: () => p, open: () => open() };
}
