import { describe, expect, it } from 'vitest';
import { createGroup } from '../../src/store/group.js';

/** A batch runner that holds each batch until released, recording what it was given. */
function gated<T>(answer: (items: T[]) => unknown[] | Promise<unknown[]>) {
  const batches: T[][] = [];
  const gates: Array<() => void> = [];
  const run = async (items: T[]) => {
    batches.push(items);
    await new Promise<void>((r) => gates.push(r));
    return answer(items);
  };
  const releaseAll = async () => {
    while (gates.length > 0) {
      for (const g of gates.splice(0)) g();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { run, batches, releaseAll };
}

describe('createGroup (group commit)', () => {
  it('sends a lone call at once, and groups the calls that arrive while a batch is on its way', async () => {
    const g = gated<number>((items) => items.map((n) => n * 10));
    const call = createGroup(g.run, { maxBatch: 64, inFlight: 1 });
    const first = call(1);
    const rest = [2, 3, 4, 5].map((n) => call(n));
    expect(g.batches).toEqual([[1]]);
    await g.releaseAll();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40, 50]);
    expect(g.batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('keeps batches within maxBatch and runs up to inFlight of them at once', async () => {
    const g = gated<number>((items) => items);
    const call = createGroup(g.run, { maxBatch: 2, inFlight: 2 });
    const all = [1, 2, 3, 4, 5, 6, 7].map((n) => call(n));
    expect(g.batches).toEqual([[1], [2]]);
    await g.releaseAll();
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(g.batches.every((b) => b.length <= 2)).toBe(true);
    expect(g.batches.flat().sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('never puts two calls with one key in a batch, and keeps their order', async () => {
    const g = gated<{ key: string; n: number }>((items) => items.map((i) => i.n));
    const call = createGroup(g.run, { maxBatch: 64, inFlight: 1, key: (i) => i.key });
    const blocker = call({ key: 'z', n: 0 });
    const calls = [
      { key: 'a', n: 1 },
      { key: 'a', n: 2 },
      { key: 'b', n: 3 },
      { key: 'a', n: 4 },
    ].map((i) => call(i));
    await g.releaseAll();
    await Promise.all([blocker, ...calls]);
    expect(g.batches.map((b) => b.map((i) => `${i.key}${i.n}`))).toEqual([['z0'], ['a1', 'b3'], ['a2'], ['a4']]);
  });

  it('retries a failing batch one call at a time, so only the bad call fails', async () => {
    const g = gated<number>((items) => {
      if (items.includes(3)) throw new Error('bad row 3');
      return items;
    });
    const call = createGroup(g.run, { maxBatch: 64, inFlight: 1 });
    const first = call(1);
    const rest = [2, 3, 4].map((n) => call(n).then((v) => `ok ${v}`, (e: Error) => e.message));
    await g.releaseAll();
    expect(await first).toBe(1);
    expect(await Promise.all(rest)).toEqual(['ok 2', 'bad row 3', 'ok 4']);
    expect(g.batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });
});
