import { randomBytes } from 'node:crypto';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { throttledWarn } from '../observability/logger.js';
import { CLOSE_GRACE_MS, errorMessage, kindOptions, queueClosed, RETRY_JITTER } from './local.js';
import type { FailedJob, JobHandler, JobKindOptions, JobQueue, JobState } from './port.js';

export interface BullmqJobQueueOptions {
  url: string;
  /** The gateway's Redis key prefix; every key of the queue lives under `${prefix}jobs:`. */
  prefix: string;
  log: Logger;
  /** How long `close` waits for running handlers (default CLOSE_GRACE_MS). */
  closeGraceMs?: number;
  /**
   * A running job's lock, renewed at half this while its process lives: a worker killed mid-job has
   * its job run again elsewhere after at most about this long (BullMQ's default, 30 s, when unset).
   */
  lockMs?: number;
}

/**
 * An enqueue (or a count) that gets no answer from Redis within this fails instead of holding the
 * request: the job is a wake-up, and the sweep enqueues the work again once Redis is back.
 */
const CALL_TIMEOUT_MS = 3_000;
/** Failed jobs kept per kind, with their error, for `failed()` (BullMQ trims older ones). */
const MAX_FAILED_KEPT = 1000;
const IDLE_POLL_MS = 50;
/**
 * How long a worker waits after failing to fetch a job (Redis away) before it tries again. BullMQ's
 * default of 15 s delays recovery, and its wait cannot be cut short: it kept a process whose queue
 * was closed during an outage alive that long (BullMQ's stalled check still holds it up to 5 s).
 */
const WORKER_RETRY_MS = 1_000;

/**
 * A job id that names its key: `<encoded key>.<random>`. BullMQ refuses ':' and all-digit custom ids;
 * URI encoding removes ':', and '.' and '*' are escaped as well so that the separator is unambiguous
 * and the id prefix is a literal SCAN pattern. The random part makes every add a distinct job, which
 * BullMQ's deduplication needs (a re-run queued behind an active job takes the id of its add).
 */
const encodeKey = (key: string): string => encodeURIComponent(key).replace(/[.*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const keyOfJob = (job: Job): string => job.deduplicationId ?? decodeURIComponent((job.id ?? '').replace(/\.[^.]*$/, ''));

const unavailable = (cause: unknown): GatewayError =>
  new GatewayError(`The job queue (Redis) is unavailable: ${errorMessage(cause)}`, { status: 503, code: 'job_queue_unavailable', category: 'internal', cause });

/**
 * `work`, or a GatewayError once `ms` have passed; a late outcome of `work` is dropped, never
 * unhandled. The timer is not unref'd: someone awaits it, and it is cleared as soon as `work` settles.
 */
function bounded<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(new Error(`no answer within ${ms} ms`))), ms);
  });
  return Promise.race([work.catch((err: unknown) => Promise.reject(err instanceof GatewayError ? err : unavailable(err))), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

interface Kind {
  name: string;
  handler: JobHandler<unknown>;
  options: JobKindOptions;
  queue: Queue;
  worker?: Worker;
  /** Completed jobs are removed from Redis, so this process counts its own. */
  completed: number;
}

/**
 * The BullMQ `JobQueue`: one BullMQ queue per kind (queue name = kind, keys under
 * `${prefix}jobs:<kind>:`), a worker per kind once `start` is called.
 *
 * Deduplication is BullMQ's own, atomic in its Lua scripts: every add carries
 * `deduplication: { id: key, keepLastIfActive: true }`, so while a job of the key waits or is
 * delayed (a retry's backoff included) an add is a no-op, and while it is active the add's data is
 * parked and becomes a new job the moment the active one finishes — one more run, never two at
 * once, even across processes (as long as a worker keeps its job's lock: a handler that blocks the
 * event loop for BullMQ's lockDuration, 30 s, loses it and the job is run again elsewhere). Completed
 * jobs are removed (the key is free again); failed ones are kept (the newest MAX_FAILED_KEPT per kind)
 * and removed when an enqueue of their key creates a new job.
 *
 * Redis down: enqueue, counts and failed reject within CALL_TIMEOUT_MS with a 503 GatewayError
 * (`job_queue_unavailable`); connection errors are logged (throttled), never thrown; workers wait
 * and reconnect on their own.
 */
export function createBullmqJobQueue(opts: BullmqJobQueueOptions): JobQueue {
  const { log } = opts;
  const prefix = `${opts.prefix}jobs`;
  const warnProducer = throttledWarn(log, 'job queue: Redis unavailable for enqueueing');
  const warnWorker = throttledWarn(log, 'job queue: worker cannot reach Redis');
  // The queues share one connection that fails fast while Redis is away (no offline queue)...
  const producer = new Redis(opts.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2_000 });
  producer.on('error', (err: Error) => warnProducer({ err: err.message }));
  // ...and each worker duplicates this template (which never connects itself): workers block on
  // Redis and must wait out an outage, which BullMQ requires as `maxRetriesPerRequest: null`.
  const workerTemplate = new Redis(opts.url, { maxRetriesPerRequest: null, lazyConnect: true });
  const kinds = new Map<string, Kind>();
  let started = false;
  let closed = false;
  let closing: Promise<void> | undefined;

  function kindOf(name: string): Kind {
    const kind = kinds.get(name);
    if (!kind) throw new Error(`job kind "${name}" is not defined`);
    return kind;
  }

  function startWorker(kind: Kind): void {
    const worker = new Worker(
      kind.name,
      async (job: Job) => {
        try {
          await kind.handler(job.data, { attempt: job.attemptsMade + 1, key: keyOfJob(job) });
        } catch (err) {
          // BullMQ reads `err.message` and `err.name`: anything thrown becomes an Error.
          throw err instanceof Error ? err : new Error(String(err));
        }
      },
      {
        connection: workerTemplate,
        prefix,
        concurrency: kind.options.concurrency,
        runRetryDelay: WORKER_RETRY_MS,
        ...(opts.lockMs ? { lockDuration: opts.lockMs, stalledInterval: opts.lockMs } : {}),
      },
    );
    worker.on('error', (err: Error) => warnWorker({ kind: kind.name, err: err.message }));
    worker.on('completed', () => {
      kind.completed += 1;
    });
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job) return;
      const fields = { kind: kind.name, key: keyOfJob(job), attempt: job.attemptsMade, err: err.message };
      if (job.attemptsMade >= kind.options.attempts) log.warn(fields, 'job failed for good');
      else log.debug(fields, 'job failed, will retry');
    });
    kind.worker = worker;
  }

  /** Removes the failed jobs of `key` (left from before `keep`, the job just added for it). */
  async function removeFailed(kind: Kind, key: string, keep: string): Promise<void> {
    const set = kind.queue.toKey('failed');
    let cursor = '0';
    do {
      const [next, flat] = await producer.zscan(set, cursor, 'MATCH', `${encodeKey(key)}.*`, 'COUNT', MAX_FAILED_KEPT);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const id = flat[i];
        if (id && id !== keep) await kind.queue.remove(id);
      }
    } while (cursor !== '0');
  }

  async function countsOf(kind: Kind): Promise<Record<JobState, number>> {
    const c = await kind.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'failed');
    return {
      waiting: (c.wait ?? 0) + (c.prioritized ?? 0),
      delayed: c.delayed ?? 0,
      active: c.active ?? 0,
      completed: kind.completed,
      failed: c.failed ?? 0,
    };
  }

  async function allCounts(): Promise<Record<string, Record<JobState, number>>> {
    const list = [...kinds.values()];
    const counts = await Promise.all(list.map(countsOf));
    return Object.fromEntries(list.map((k, i) => [k.name, counts[i] as Record<JobState, number>]));
  }

  /** Lets running handlers finish for up to the grace period, then drops the worker's connections. */
  async function closeWorker(worker: Worker): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), opts.closeGraceMs ?? CLOSE_GRACE_MS);
    });
    const closing = worker.close();
    const finished = await Promise.race([closing.then(() => true), grace]);
    clearTimeout(timer);
    if (finished) return;
    // The unfinished jobs stay active in Redis; their locks expire and another worker retries them.
    log.warn({ kind: worker.name }, 'job queue closed with handlers still running');
    closing.catch(() => {});
    await worker.disconnect();
  }

  return {
    kind: 'bullmq',

    define<T>(name: string, handler: JobHandler<T>, options?: Partial<JobKindOptions>): void {
      if (kinds.has(name)) throw new Error(`job kind "${name}" is defined twice`);
      const kindOpts = kindOptions(name, options);
      const queue = new Queue(name, {
        connection: producer,
        prefix,
        defaultJobOptions: {
          attempts: kindOpts.attempts,
          backoff: { type: 'exponential', delay: kindOpts.backoffMs, jitter: RETRY_JITTER },
          removeOnComplete: true,
          removeOnFail: { count: MAX_FAILED_KEPT },
        },
      });
      queue.on('error', (err: Error) => warnProducer({ kind: name, err: err.message }));
      const kind: Kind = { name, handler: handler as JobHandler<unknown>, options: kindOpts, queue, completed: 0 };
      kinds.set(name, kind);
      if (started) startWorker(kind);
    },

    async enqueue<T>(name: string, data: T, options: { key: string; delayMs?: number }): Promise<void> {
      const kind = kindOf(name);
      if (closed) throw queueClosed();
      const jobId = `${encodeKey(options.key)}.${randomBytes(6).toString('hex')}`;
      const add = async () => {
        const job = await kind.queue.add(name, data, {
          jobId,
          ...(options.delayMs && options.delayMs > 0 ? { delay: options.delayMs } : {}),
          deduplication: { id: options.key, keepLastIfActive: true },
        });
        // Our id back means a new job: nothing was pending for the key, but a failed job may be left.
        if (job.id === jobId) await removeFailed(kind, options.key, jobId);
      };
      await bounded(add(), CALL_TIMEOUT_MS);
    },

    async start(): Promise<void> {
      if (closed) throw queueClosed();
      if (started) return;
      started = true;
      for (const kind of kinds.values()) startWorker(kind);
    },

    counts: () => bounded(allCounts(), CALL_TIMEOUT_MS),

    async failed(limit: number): Promise<FailedJob[]> {
      if (limit <= 0) return [];
      const list = [...kinds.values()];
      const jobs = await bounded(Promise.all(list.map((k) => k.queue.getFailed(0, limit - 1))), CALL_TIMEOUT_MS);
      return jobs
        .flatMap((js, i) => js.map((job) => ({ job, kind: (list[i] as Kind).name })))
        .sort((a, b) => (b.job.finishedOn ?? 0) - (a.job.finishedOn ?? 0))
        .slice(0, limit)
        .map(({ job, kind }) => ({
          kind,
          key: keyOfJob(job),
          data: job.data as unknown,
          error: job.failedReason,
          attempts: job.attemptsMade,
          failed_at: new Date(job.finishedOn ?? job.timestamp).toISOString(),
        }));
    },

    async idle(timeoutMs: number): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        try {
          const counts = await bounded(allCounts(), Math.max(1, Math.min(left, CALL_TIMEOUT_MS)));
          if (Object.values(counts).every((c) => c.waiting + c.delayed + c.active === 0)) return true;
        } catch {
          // Redis unreachable: not known to be idle; try again until the deadline.
        }
        if (Date.now() + IDLE_POLL_MS > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
      }
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        // Every step runs even when an earlier one fails: workers first (they finish their jobs), then queues, then connections.
        const report = (step: string) => (results: PromiseSettledResult<unknown>[]) => {
          for (const r of results) if (r.status === 'rejected') log.warn({ step, err: errorMessage(r.reason) }, 'job queue close step failed');
        };
        const list = [...kinds.values()];
        await Promise.allSettled(list.flatMap((k) => (k.worker ? [closeWorker(k.worker)] : []))).then(report('workers'));
        await Promise.allSettled(list.map((k) => k.queue.close())).then(report('queues'));
        producer.disconnect();
        workerTemplate.disconnect();
      })();
      return closing;
    },
  };
}
