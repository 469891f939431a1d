/**
 * Cancelling an upstream call: what the chat path needs of an AbortSignal, and a controller of its
 * own for the signals it makes per request.
 *
 * `CancelSignal` is the part of AbortSignal the transport, the router and the providers use, so an
 * AbortSignal is one (`AbortSignal.timeout(ms)` for internal calls, a test's controller). The chat
 * path makes two per request, one for the client's connection and one per upstream attempt, with
 * `Canceller`: on Node 20 every AbortSignal outlived two scavenges and was promoted to old space
 * (~250 bytes each, and longer scavenge pauses), where a plain object dies young.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  /** Why it was aborted (a GatewayError on the chat path); undefined until then. */
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A controller that is its own signal; its listeners are called once, in the order they were added. */
export class Canceller implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  #listeners: (() => void)[] | undefined = undefined;

  get signal(): CancelSignal {
    return this;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        // As an EventTarget does: a listener that throws is reported, the others still run.
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.#listeners) this.#listeners.push(listener);
    else this.#listeners = [listener];
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    const i = listeners ? listeners.indexOf(listener) : -1;
    if (i !== -1) listeners?.splice(i, 1);
  }
}

/** Waits `ms`, or less when `signal` is aborted first (it resolves then too: the caller checks the signal). */
export function delay(ms: number, signal: CancelSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
