import type { JobQueue } from './port.js';

/**
 * A background loop whose work is derived from state: `work` finds what is left to do (in SQL) and
 * does it until nothing is. It runs once at a time per process — a wake-up during a run makes the
 * run go round again — and is woken by `notify` (new work now) and by a periodic sweep (work a lost
 * wake-up, a crash or another instance left behind). A failed run is reported and retried by the
 * next sweep.
 *
 * With a `queue`, wake-ups and sweeps become jobs of one kind (deduplicated: one waiting at a time),
 * so whichever process takes jobs — a worker, or this gateway — does the work; a queue that cannot
 * be reached (Redis down) makes this process do it itself, so the work is delayed, never stalled.
 */
export interface SweeperOptions {
  /** Does the work until none is left; checks `isClosed()` between units of work. */
  work(isClosed: () => boolean): Promise<void>;
  intervalMs: number;
  onError(err: unknown): void;
  /** Wake-ups within this many ms share one run (appends of one request, say). */
  wakeDelayMs?: number;
  queue?: { queue: JobQueue; kind: string } | undefined;
}

export function createSweeper(opts: SweeperOptions) {
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: NodeJS.Timeout | undefined;
  const isClosed = () => closed;

  async function loop(): Promise<void> {
    do {
      again = false;
      await opts.work(isClosed);
    } while (again && !closed);
  }

  function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = loop()
      .catch((err: unknown) => opts.onError(err))
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const viaQueue = opts.queue;
  // Jobs of the kind run the loop in whichever process takes them (concurrency 1 per process).
  viaQueue?.queue.define(viaQueue.kind, () => run(), { concurrency: 1 });
  let queueDown = false;
  /** Asks for a run: through the queue when there is one and it answers, else here. */
  function trigger(): void {
    if (!viaQueue) {
      void run();
      return;
    }
    viaQueue.queue.enqueue(viaQueue.kind, {}, { key: viaQueue.kind }).then(
      () => {
        queueDown = false;
      },
      (err: unknown) => {
        if (!queueDown) opts.onError(new Error(`job queue unavailable, working in this process: ${(err as Error).message}`));
        queueDown = true;
        void run();
      },
    );
  }

  return {
    /** Starts the sweep and a first run, not awaited: a backlog is worked off while the process serves. */
    start(): void {
      timer = setInterval(trigger, opts.intervalMs);
      timer.unref();
      trigger();
    },
    /** New work exists: run soon. */
    notify(): void {
      if (closed || wake) return;
      wake = setTimeout(() => {
        wake = undefined;
        if (!closed) trigger();
      }, opts.wakeDelayMs ?? 20);
      wake.unref();
    },
    /** Runs until everything there was to do when called is done (tests, evals, a reindex). */
    async drain(): Promise<void> {
      await run();
      if (running) await running;
      await run();
    },
    async close(): Promise<void> {
      closed = true;
      if (timer) clearInterval(timer);
      if (wake) clearTimeout(wake);
      await running;
    },
  };
}
