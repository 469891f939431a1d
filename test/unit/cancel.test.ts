import { describe, expect, it } from 'vitest';
import { Canceller, delay } from '../../src/providers/cancel.js';

describe('Canceller', () => {
  it('calls its listeners once, in order, after the reason is set', () => {
    const c = new Canceller();
    const seen: string[] = [];
    c.signal.addEventListener('abort', () => seen.push(`a:${String(c.signal.reason)}:${c.signal.aborted}`));
    c.signal.addEventListener('abort', () => seen.push('b'), { once: true });
    expect(c.signal.aborted).toBe(false);
    expect(c.signal.reason).toBeUndefined();
    c.abort('gone');
    c.abort('again');
    expect(seen).toEqual(['a:gone:true', 'b']);
    expect(c.signal.reason).toBe('gone');
  });

  it('does not call a removed listener, nor one added after the abort', () => {
    const c = new Canceller();
    let removed = 0;
    let late = 0;
    const listener = (): void => {
      removed++;
    };
    c.signal.addEventListener('abort', listener);
    c.signal.removeEventListener('abort', listener);
    c.signal.removeEventListener('abort', () => {});
    c.abort(new Error('x'));
    c.signal.addEventListener('abort', () => {
      late++;
    });
    expect(removed).toBe(0);
    expect(late).toBe(0);
  });

  it('runs the other listeners when one throws', async () => {
    const c = new Canceller();
    let after = 0;
    const reported = new Promise<unknown>((resolve) => {
      const original = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (err) => {
        for (const l of original) process.on('uncaughtException', l);
        resolve(err);
      });
    });
    c.signal.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    c.signal.addEventListener('abort', () => {
      after++;
    });
    c.abort('x');
    expect(after).toBe(1);
    expect(((await reported) as Error).message).toBe('listener failed');
  });
});

describe('delay', () => {
  it('waits the time given', async () => {
    const started = performance.now();
    await delay(30, new Canceller().signal);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('ends early when the signal is aborted, and at once when it already was', async () => {
    const c = new Canceller();
    const sentinel = (): Promise<string> => new Promise((resolve) => setTimeout(() => resolve('timer'), 2_000).unref());
    const waiting = delay(60_000, c.signal).then(() => 'delay');
    setTimeout(() => c.abort('stop'), 10);
    expect(await Promise.race([waiting, sentinel()])).toBe('delay');
    expect(await Promise.race([delay(60_000, c.signal).then(() => 'delay'), sentinel()])).toBe('delay');
  });

  it('accepts an AbortSignal', async () => {
    const ac = new AbortController();
    const waiting = delay(60_000, ac.signal);
    ac.abort();
    await waiting;
    expect(ac.signal.aborted).toBe(true);
  });
});
