import type { Payload, VectorPoint } from '../../src/vector/port.js';

/** A seeded PRNG (mulberry32), so the vector suite's data is the same on every run and adapter. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(rand: () => number, dims: number): number[] {
  return Array.from({ length: dims }, () => rand() * 2 - 1);
}

const KINDS = ['turn', 'fact', 'chunk'] as const;

/** `n` points with a mix of payload types, so filters meet strings, integers, booleans and arrays. */
export function samplePoints(rand: () => number, n: number, dims: number, prefix = 'p'): VectorPoint[] {
  return Array.from({ length: n }, (_, i) => {
    const payload: Payload = {
      kind: KINDS[i % 3] as string,
      session_id: `s${i % 4}`,
      turn: i,
      pinned: i % 5 === 0,
      tags: i % 2 === 0 ? ['even', `t${i % 3}`] : ['odd'],
      note: i % 7 === 0 ? null : `note "${i}" — ü`,
    };
    return { id: `${prefix}${i}`, vector: randomVector(rand, dims), payload };
  });
}
