/**
 * Group commit for small statements: calls made while a batch is on its way to the database wait
 * and go together in the next one. With one call at a time each is its own batch and waits for
 * nothing; under load one round trip (and one commit) serves many calls, which is what lets a
 * session-heavy gateway stop paying a transaction per request.
 */
export interface GroupOptions<In> {
  /** Most calls in one batch. */
  maxBatch: number;
  /** Batches on their way at once (the rest queue). */
  inFlight: number;
  /**
   * Calls with the same key never share a batch (an upsert may touch a row once per statement): the
   * second waits for a later batch, keeping its place in the queue.
   */
  key?: (item: In) => string;
}

export function createGroup<In, Out>(run: (items: In[]) => Promise<Out[]>, opts: GroupOptions<In>): (item: In) => Promise<Out> {
  type Waiting = { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void };
  let queue: Waiting[] = [];
  let running = 0;

  /** Runs one batch; a failing batch of several is retried one call at a time, so each call gets its own answer. */
  async function settle(batch: Waiting[]): Promise<void> {
    try {
      const outs = await run(batch.map((w) => w.item));
      for (const [i, w] of batch.entries()) w.resolve(outs[i] as Out);
    } catch (err) {
      if (batch.length === 1) (batch[0] as Waiting).reject(err);
      else for (const w of batch) await settle([w]);
    }
  }

  function next(): void {
    while (running < opts.inFlight && queue.length > 0) {
      const batch: Waiting[] = [];
      const later: Waiting[] = [];
      const keys = new Set<string>();
      for (const w of queue) {
        const k = opts.key?.(w.item);
        if (batch.length < opts.maxBatch && (k === undefined || !keys.has(k))) {
          batch.push(w);
          if (k !== undefined) keys.add(k);
        } else later.push(w);
      }
      queue = later;
      running++;
      void settle(batch).finally(() => {
        running--;
        next();
      });
    }
  }

  return (item) =>
    new Promise<Out>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      next();
    });
}
