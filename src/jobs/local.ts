import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { DEFAULT_JOB_OPTIONS, type FailedJob, type JobHandler, type JobKindOptions, type JobQueue, type JobState } from './port.js';

/** Failed jobs kept for `failed()`: enough to see a pattern, bounded so a broken kind cannot grow memory. */
const MAX_FAILED = 1000;
/** How long `close` waits for running handlers: longer than a normal job, short enough for a restart. */
export const CLOSE_GRACE_MS = 10_000;
/**
 * A retry waits between (1 - RETRY_JITTER) and 1 times its exponential backoff, so jobs that failed
 * together (an upstream outage) do not all retry at the same moment. BullMQ gets the same spread.
 */
export const RETRY_JITTER = 0.5;

/** The delay before the retry that follows run `attempt` (1-based): backoff, doubled per retry, jittered. */
export function retryDelayMs(backoffMs: number, attempt: number): number {
  const max = backoffMs * 2 ** (attempt - 1);
  return Math.floor(max * (1 - RETRY_JITTER * Math.random()));
}

/** Kind options with defaults, checked once at `define` (a zero concurrency would never run anything). */
export function kindOptions(kind: string, options: Partial<JobKindOptions> | undefined): JobKindOptions {
  const concurrency = options?.concurrency ?? DEFAULT_JOB_OPTIONS.concurrency;
  const attempts = options?.attempts ?? DEFAULT_JOB_OPTIONS.attempts;
  const backoffMs = options?.backoffMs ?? DEFAULT_JOB_OPTIONS.backoffMs;
  if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isInteger(attempts) || attempts < 1 || !(backoffMs >= 0)) {
    throw new Error(`job kind "${kind}": concurrency and attempts must be positive integers and backoffMs >= 0`);
  }
  return { concurrency, attempts, backoffMs };
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export const queueClosed = (): GatewayError =>
  new GatewayError('The job queue is shutting down.', { status: 503, code: 'job_queue_closed', category: 'internal' });

interface Entry {
  key: string;
  data: unknown;
  state: 'waiting' | 'delayed' | 'active';
  /** Runs started so far. */
  attempt: number;
  timer?: NodeJS.Timeout;
  /** An enqueue that arrived while this job ran: one more run after it, with the newest data. */
  rerun?: { data: unknown; delayMs: number | undefined };
}

interface Kind {
  name: string;
  handler: JobHandler<unknown>;
  options: JobKindOptions;
  /** One job per key, in whatever state it is. */
  entries: Map<string, Entry>;
  /** Jobs due to run, oldest first. */
  ready: Entry[];
  running: number;
  completed: number;
}

/**
 * The in-process `JobQueue` of the embedded default (no Redis): jobs live in memory and are lost
 * with the process, which the periodic sweep makes up for (port.ts). It behaves like the BullMQ
 * adapter, so the same contract suite passes on both: one job per (kind, key); an enqueue while the
 * key runs schedules one more run after it; retries with jittered exponential backoff; data is
 * copied through JSON, as Redis would, so a handler sees the same values in both.
 */
export function createLocalJobQueue(opts: { log: Logger; closeGraceMs?: number }): JobQueue {
  const { log } = opts;
  const kinds = new Map<string, Kind>();
  // Newest last (a Map keeps insertion order); one entry per (kind, key), keyed `${kind}\0${key}`.
  const failures = new Map<string, FailedJob>();
  const inflight = new Set<Promise<void>>();
  const idleWaiters = new Set<() => void>();
  let started = false;
  let closed = false;
  let closing: Promise<void> | undefined;

  const failureId = (kind: string, key: string) => `${kind}\0${key}`;
  const isIdle = () => [...kinds.values()].every((k) => k.entries.size === 0);

  function kindOf(name: string): Kind {
    const kind = kinds.get(name);
    if (!kind) throw new Error(`job kind "${name}" is not defined`);
    return kind;
  }

  function add(kind: Kind, key: string, data: unknown, delayMs: number | undefined): void {
    const entry: Entry = { key, data, state: 'waiting', attempt: 0 };
    kind.entries.set(key, entry);
    if (delayMs && delayMs > 0) {
      schedule(kind, entry, delayMs);
    } else {
      kind.ready.push(entry);
      pump(kind);
    }
  }

  function schedule(kind: Kind, entry: Entry, delayMs: number): void {
    entry.state = 'delayed';
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.state = 'waiting';
      kind.ready.push(entry);
      pump(kind);
    }, delayMs);
    entry.timer.unref();
  }

  function pump(kind: Kind): void {
    if (!started || closed) return;
    while (kind.running < kind.options.concurrency) {
      const entry = kind.ready.shift();
      if (!entry) return;
      run(kind, entry);
    }
  }

  function run(kind: Kind, entry: Entry): void {
    entry.state = 'active';
    entry.attempt += 1;
    kind.running += 1;
    const attempt = entry.attempt;
    // The handler is called inside `then`, so a synchronous throw becomes a rejection like any other,
    // and both outcomes are consumed here: a handler's error never becomes an unhandled rejection.
    const done: Promise<void> = Promise.resolve()
      .then(() => kind.handler(entry.data, { attempt, key: entry.key }))
      .then(
        () => {
          kind.completed += 1;
          settle(kind, entry);
        },
        (err: unknown) => onFailure(kind, entry, err),
      )
      .catch((err: unknown) => log.error({ kind: kind.name, err: errorMessage(err) }, 'job queue bookkeeping failed'))
      .finally(() => inflight.delete(done));
    inflight.add(done);
  }

  function onFailure(kind: Kind, entry: Entry, err: unknown): void {
    const fields = { kind: kind.name, key: entry.key, attempt: entry.attempt, err: errorMessage(err) };
    if (entry.attempt < kind.options.attempts) {
      if (closed) {
        // Shutting down: the job is dropped like every other pending one; the sweep brings it back.
        settle(kind, entry);
        return;
      }
      kind.running -= 1;
      const delayMs = retryDelayMs(kind.options.backoffMs, entry.attempt);
      log.debug({ ...fields, delayMs }, 'job failed, will retry');
      schedule(kind, entry, delayMs);
      pump(kind);
      return;
    }
    log.warn(fields, 'job failed for good');
    const id = failureId(kind.name, entry.key);
    failures.delete(id);
    failures.set(id, { kind: kind.name, key: entry.key, data: entry.data, error: fields.err, attempts: entry.attempt, failed_at: new Date().toISOString() });
    if (failures.size > MAX_FAILED) failures.delete(failures.keys().next().value as string);
    settle(kind, entry);
  }

  /** The job is done (completed, failed for good, or dropped): free its key and slot. */
  function settle(kind: Kind, entry: Entry): void {
    kind.running -= 1;
    kind.entries.delete(entry.key);
    if (entry.rerun && !closed) add(kind, entry.key, entry.rerun.data, entry.rerun.delayMs);
    pump(kind);
    if (isIdle()) for (const wake of idleWaiters) wake();
  }

  return {
    kind: 'local',

    define<T>(name: string, handler: JobHandler<T>, options?: Partial<JobKindOptions>): void {
      if (kinds.has(name)) throw new Error(`job kind "${name}" is defined twice`);
      kinds.set(name, {
        name,
        handler: handler as JobHandler<unknown>,
        options: kindOptions(name, options),
        entries: new Map(),
        ready: [],
        running: 0,
        completed: 0,
      });
    },

    async enqueue<T>(name: string, data: T, options: { key: string; delayMs?: number }): Promise<void> {
      const kind = kindOf(name);
      if (closed) throw queueClosed();
      const copy: unknown = data === undefined ? undefined : JSON.parse(JSON.stringify(data));
      const existing = kind.entries.get(options.key);
      if (existing) {
        // Waiting or delayed: that run will read the newest state. Running: it may have read the
        // state before this change, so one more run follows it (the newest data wins).
        if (existing.state === 'active') existing.rerun = { data: copy, delayMs: options.delayMs };
        return;
      }
      failures.delete(failureId(name, options.key));
      add(kind, options.key, copy, options.delayMs);
    },

    async start(): Promise<void> {
      if (closed) throw queueClosed();
      started = true;
      for (const kind of kinds.values()) pump(kind);
    },

    async counts() {
      const out: Record<string, Record<JobState, number>> = {};
      for (const kind of kinds.values()) {
        const c: Record<JobState, number> = { waiting: 0, delayed: 0, active: 0, completed: kind.completed, failed: 0 };
        for (const entry of kind.entries.values()) c[entry.state] += 1;
        out[kind.name] = c;
      }
      for (const f of failures.values()) {
        const c = out[f.kind];
        if (c) c.failed += 1;
      }
      return out;
    },

    async failed(limit: number): Promise<FailedJob[]> {
      return [...failures.values()].reverse().slice(0, Math.max(0, limit));
    },

    idle(timeoutMs: number): Promise<boolean> {
      if (isIdle()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          idleWaiters.delete(wake);
          resolve(true);
        };
        // Not unref'd, unlike the job timers: the caller awaits this bounded wait (a shutdown that
        // drains before closing must not see the process exit half-way).
        const timer = setTimeout(() => {
          idleWaiters.delete(wake);
          resolve(false);
        }, timeoutMs);
        idleWaiters.add(wake);
      });
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        for (const kind of kinds.values()) {
          for (const entry of kind.entries.values()) if (entry.timer) clearTimeout(entry.timer);
        }
        if (inflight.size === 0) return;
        let timer: NodeJS.Timeout | undefined;
        // Awaited and cleared once the handlers finish, so not unref'd either.
        const grace = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), opts.closeGraceMs ?? CLOSE_GRACE_MS);
        });
        const finished = await Promise.race([Promise.allSettled([...inflight]).then(() => true), grace]);
        clearTimeout(timer);
        if (!finished) log.warn({ running: inflight.size }, 'job queue closed with handlers still running');
      })();
      return closing;
    },
  };
}
