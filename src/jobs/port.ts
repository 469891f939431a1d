/**
 * The `JobQueue` port: named kinds of background work, enqueued by the gateway and processed by
 * workers — BullMQ on Redis in production (separate `workers/` processes), an in-process runner on
 * the embedded default. Owned by the core; adapters expose no driver type.
 *
 * Jobs are derived from state, so the queue is a wake-up, never the record: a job says *which*
 * session or document to look at, and its handler reads SQL to find what is left to do. A lost job
 * (Redis flushed, a worker killed) only delays work, because the periodic sweep enqueues again what
 * SQL says is missing. Hence:
 *  - `key` deduplicates: while a job of that kind and key waits (or is delayed, a retry's backoff
 *    included), enqueueing it again is a no-op (the pending job will see the newest state when it
 *    runs, with the data of the first enqueue). While it *runs*, enqueueing it again schedules one
 *    more run after it, with the newest data — the running one may have read the state before the
 *    change. A key never runs twice at once, in any number of processes;
 *  - handlers are idempotent: running one twice, or after a crash half-way, must leave the same state;
 *  - a handler that throws is retried with exponential backoff up to `attempts`, then kept as failed
 *    (visible with its error) until the same key is enqueued again (an enqueue made while that last
 *    attempt ran is the re-run above: it runs after the failure and leaves the entry in place).
 */

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface JobKindOptions {
  /** Jobs of this kind run at once per process. */
  concurrency: number;
  /** Runs in all, the first included, before the job is failed. */
  attempts: number;
  /** Delay before the first retry; doubled for each next one (with jitter). */
  backoffMs: number;
}

export type JobHandler<T> = (data: T, info: { attempt: number; key: string }) => Promise<void>;

export interface EnqueueOptions {
  /** Deduplication key within the kind (a session, a document): one pending job per key. */
  key: string;
  /**
   * Run no earlier than this many ms from now. Ignored when the key already has a pending job; for a
   * re-run queued behind a running job, counted from the end of that run.
   */
  delayMs?: number;
}

export interface FailedJob {
  kind: string;
  key: string;
  data: unknown;
  error: string;
  attempts: number;
  failed_at: string;
}

export interface JobQueue {
  readonly kind: 'bullmq' | 'local';
  /** Declares a kind and, in a process that processes jobs, how to run it. Call before `start`. */
  define<T>(kind: string, handler: JobHandler<T>, options?: Partial<JobKindOptions>): void;
  enqueue<T>(kind: string, data: T, options: EnqueueOptions): Promise<void>;
  /** Starts processing the defined kinds (a process that only enqueues never calls it). */
  start(): Promise<void>;
  /** Jobs per kind and state. Completed jobs are not kept, so `completed` counts since start (this process). */
  counts(): Promise<Record<string, Record<JobState, number>>>;
  /** The most recent failed jobs, newest first. */
  failed(limit: number): Promise<FailedJob[]>;
  /**
   * Resolves once nothing is waiting, delayed or running (tests, shutdown); false on timeout. BullMQ
   * counts every process's jobs of the defined kinds.
   */
  idle(timeoutMs: number): Promise<boolean>;
  /**
   * Stops taking jobs, lets running ones finish (up to a grace period, 10 s by default), and closes
   * connections. Jobs not yet started stay in Redis (BullMQ) or are dropped (local); enqueue then rejects.
   */
  close(): Promise<void>;
}

export const DEFAULT_JOB_OPTIONS: JobKindOptions = { concurrency: 1, attempts: 5, backoffMs: 1_000 };
