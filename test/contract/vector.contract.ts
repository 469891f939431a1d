import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryVectorStore } from '../../src/vector/memory/adapter.js';
import type { SearchHit, VectorFilter, VectorPoint, VectorStore } from '../../src/vector/port.js';
import { uniqueName } from '../helpers/env.js';
import { randomVector, samplePoints, seeded } from '../helpers/vector-fixtures.js';

const DIMS = 8;
const MODEL = 'test-model-v1';

/**
 * The conformance suite every `VectorStore` adapter passes. `open` is called once per adapter (a
 * PGlite start costs seconds); each case works in its own collection and drops it afterwards. The
 * in-memory adapter is the ground truth: results are compared with what it answers.
 */
export function vectorContract(name: string, hooks: { open(): Promise<VectorStore>; close?(): Promise<void> }) {
  describe(`VectorStore contract: ${name}`, () => {
    let store: VectorStore;
    let ref: VectorStore;
    let col: string;
    beforeAll(async () => {
      store = await hooks.open();
    });
    afterAll(async () => {
      await store?.close();
      await hooks.close?.();
    });
    afterEach(async () => {
      await store.dropCollection({ name: col });
      await ref.close();
    });
    /** A fresh collection in the store and in the reference, loaded with the same points. */
    const setup = async (points: VectorPoint[] = [], tenantId = 't1') => {
      col = uniqueName('v');
      ref = createMemoryVectorStore();
      for (const s of [store, ref]) {
        await s.ensureCollection({ name: col, dimensions: DIMS, metric: 'cosine', model: MODEL });
        if (points.length > 0) await s.upsert({ collection: col, tenantId, points });
      }
    };
    const sameAsReference = (got: SearchHit[], want: SearchHit[]) => {
      expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
      got.forEach((h, i) => {
        expect(h.score).toBeCloseTo(want[i]!.score, 4);
        expect(h.payload).toEqual(want[i]!.payload);
      });
    };
    const ids = async (filter?: VectorFilter, tenantId = 't1', topK = 100) =>
      (await store.search({ collection: col, tenantId, vector: randomVector(seeded(9), DIMS), topK, filter })).map((h) => h.id).sort();

    it('creates a collection once and records its dimensions and model', async () => {
      await setup();
      await expect(store.ensureCollection({ name: col, dimensions: DIMS, metric: 'cosine', model: MODEL })).resolves.toEqual({ created: false });
      await expect(store.getCollection({ name: col })).resolves.toEqual({ name: col, dimensions: DIMS, metric: 'cosine', model: MODEL });
      await expect(store.getCollection({ name: `${col}_none` })).resolves.toBeNull();
    });

    it('refuses to reuse a collection for another model or dimension', async () => {
      await setup();
      for (const other of [
        { model: 'other-model', dimensions: DIMS },
        { model: MODEL, dimensions: DIMS + 1 },
      ]) {
        await expect(store.ensureCollection({ name: col, metric: 'cosine', ...other })).rejects.toMatchObject({
          code: 'vector_collection_mismatch',
          status: 409,
          details: { existing: { model: MODEL, dimensions: DIMS } },
        });
      }
    });

    it('returns the top-k in the reference order with cosine scores', async () => {
      const rand = seeded(1);
      await setup(samplePoints(rand, 40, DIMS));
      for (let q = 0; q < 5; q++) {
        const vector = Float32Array.from(randomVector(rand, DIMS));
        const args = { collection: col, tenantId: 't1', vector, topK: 7 };
        const got = await store.search(args);
        expect(got).toHaveLength(7);
        sameAsReference(got, await ref.search(args));
        expect(got[0]!.score).toBeGreaterThanOrEqual(got[6]!.score);
      }
      // A stored vector finds itself with similarity 1.
      const self = samplePoints(seeded(1), 40, DIMS)[13]!;
      const [top] = await store.search({ collection: col, tenantId: 't1', vector: self.vector, topK: 1 });
      expect(top).toMatchObject({ id: 'p13', payload: self.payload });
      expect(top!.score).toBeCloseTo(1, 4);
    });

    it('applies equality and `in` filters, including membership in string[] payloads', async () => {
      const rand = seeded(2);
      await setup(samplePoints(rand, 30, DIMS));
      const filters: VectorFilter[] = [
        { kind: 'fact' },
        { kind: { in: ['turn', 'chunk'] }, session_id: 's1' },
        { pinned: true },
        { turn: { in: [3, 4, 29, 99] } },
        { tags: 'even' },
        { tags: { in: ['t1', 'odd'] }, kind: 'turn' },
        { kind: 'missing' },
        { no_such_key: 'x' },
      ];
      for (const filter of filters) {
        const vector = randomVector(rand, DIMS);
        const args = { collection: col, tenantId: 't1', vector, topK: 5, filter };
        sameAsReference(await store.search(args), await ref.search(args));
        expect(await store.count({ collection: col, tenantId: 't1', filter })).toBe(await ref.count({ collection: col, tenantId: 't1', filter }));
      }
      expect(await ids({ turn: { in: [3, 4] } })).toEqual(['p3', 'p4']);
      expect(await ids({ kind: { in: [] } })).toEqual([]);
      expect(await store.count({ collection: col, tenantId: 't1', filter: { kind: { in: [] } } })).toBe(0);
    });

    it('serves filters on indexed keys exactly like any filter, and keeps those keys to strings', async () => {
      const rand = seeded(12);
      col = uniqueName('v');
      ref = createMemoryVectorStore();
      const points = samplePoints(rand, 60, DIMS);
      for (const s of [store, ref]) {
        await s.ensureCollection({ name: col, dimensions: DIMS, metric: 'cosine', model: MODEL });
        // Indexed keys can be added to an existing collection.
        await s.ensureCollection({ name: col, dimensions: DIMS, metric: 'cosine', model: MODEL, indexedKeys: ['session_id', 'kind'] });
        await s.upsert({ collection: col, tenantId: 't1', points });
        await s.upsert({ collection: col, tenantId: 't2', points: points.slice(0, 10) });
      }
      for (const filter of [{ session_id: 's1' }, { session_id: { in: ['s0', 's3'] }, kind: 'turn' }, { session_id: 's2', pinned: true }, { session_id: 'none' }] as VectorFilter[]) {
        const args = { collection: col, tenantId: 't1', vector: randomVector(rand, DIMS), topK: 6, filter };
        sameAsReference(await store.search(args), await ref.search(args));
      }
      // Tenant isolation holds on the indexed path too.
      const t2 = await store.search({ collection: col, tenantId: 't2', vector: randomVector(rand, DIMS), topK: 100, filter: { session_id: 's1' } });
      expect(t2.map((h) => h.id).sort()).toEqual(['p1', 'p5', 'p9']);
      await expect(
        store.upsert({ collection: col, tenantId: 't1', points: [{ id: 'bad', vector: randomVector(rand, DIMS), payload: { session_id: 7 } }] }),
      ).rejects.toMatchObject({ status: 400 });
      expect(await store.count({ collection: col, tenantId: 't1', filter: { session_id: 's1' } })).toBe(15);
    });

    it('overwrites a point by id, and the last of duplicate ids in one batch wins', async () => {
      const rand = seeded(3);
      await setup(samplePoints(rand, 5, DIMS));
      const vector = randomVector(rand, DIMS);
      await store.upsert({
        collection: col,
        tenantId: 't1',
        points: [
          { id: 'p2', vector: randomVector(rand, DIMS), payload: { kind: 'first' } },
          { id: 'p2', vector, payload: { kind: 'new', tags: ['x'] } },
        ],
      });
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(5);
      const [top] = await store.search({ collection: col, tenantId: 't1', vector, topK: 1 });
      expect(top).toMatchObject({ id: 'p2', payload: { kind: 'new', tags: ['x'] } });
      expect(await ids({ kind: 'first' })).toEqual([]);
    });

    it('deletes by id and by filter', async () => {
      await setup(samplePoints(seeded(4), 12, DIMS));
      await store.delete({ collection: col, tenantId: 't1', ids: ['p0', 'p1', 'nope'] });
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(10);
      expect(await ids()).not.toContain('p0');
      await store.deleteByFilter({ collection: col, tenantId: 't1', filter: { kind: { in: ['turn', 'fact'] }, session_id: 's2' } });
      // p2 (chunk, s2) stays; p6 (turn, s2) and p10 (fact, s2) go.
      expect(await ids({ session_id: 's2' })).toEqual(['p2']);
      await store.deleteByFilter({ collection: col, tenantId: 't1', filter: { kind: { in: [] } } });
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(8);
    });

    it('keeps tenants apart: the same ids in two tenants never cross', async () => {
      await setup(samplePoints(seeded(5), 6, DIMS));
      const other = samplePoints(seeded(6), 6, DIMS).map((p) => ({ ...p, payload: { ...p.payload, owner: 't2' } }));
      await store.upsert({ collection: col, tenantId: 't2', points: other });
      const hits = await store.search({ collection: col, tenantId: 't1', vector: other[0]!.vector, topK: 20 });
      expect(hits).toHaveLength(6);
      expect(hits.every((h) => h.payload.owner === undefined)).toBe(true);
      await store.delete({ collection: col, tenantId: 't1', ids: ['p0'] });
      await store.deleteByFilter({ collection: col, tenantId: 't1', filter: {} });
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(0);
      expect(await store.count({ collection: col, tenantId: 't2' })).toBe(6);
      expect(await ids(undefined, 't2')).toContain('p0');
      expect(await ids(undefined, 't3')).toEqual([]);
      await expect(store.search({ collection: col, tenantId: '', vector: other[0]!.vector, topK: 1 })).rejects.toMatchObject({ status: 400 });
      await expect(store.count({ collection: col, tenantId: undefined as unknown as string })).rejects.toMatchObject({ status: 400 });
    });

    it('rejects a vector of the wrong dimension, naming expected and got, and writes nothing', async () => {
      await setup();
      const good = { id: 'a', vector: randomVector(seeded(7), DIMS), payload: {} };
      const bad = { id: 'b', vector: randomVector(seeded(7), DIMS + 2), payload: {} };
      const mismatch = { code: 'vector_dimension_mismatch', status: 400, details: { collection: col, expected: DIMS, got: DIMS + 2 } };
      await expect(store.upsert({ collection: col, tenantId: 't1', points: [good, bad] })).rejects.toMatchObject(mismatch);
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(0);
      await expect(store.search({ collection: col, tenantId: 't1', vector: bad.vector, topK: 3 })).rejects.toMatchObject(mismatch);
      await expect(store.search({ collection: col, tenantId: 't1', vector: bad.vector, topK: 3 })).rejects.toThrow(/8/);
    });

    it('finds topK points past an approximate index: a selective filter, and more points than its default candidates', async () => {
      // Enough points that an HNSW index serves the search (and that pgvector's adapter has analysed
      // the table, so the planner knows the filter is not selective enough for another index). A
      // filter kept by 1 point in 8 leaves ~5 of an index's first 40 candidates: the scan must go on
      // until topK pass it. And 150 points asked for are more than pgvector's default list holds.
      const rand = seeded(14);
      const points = samplePoints(rand, 6000, DIMS).map((p, i) => ({ ...p, payload: { ...p.payload, rare: i % 8 === 7 } }));
      await setup(points);
      for (let q = 0; q < 3; q++) {
        const vector = randomVector(rand, DIMS);
        const filtered = { collection: col, tenantId: 't1', vector, topK: 12, filter: { rare: true } };
        const got = await store.search(filtered);
        expect(got).toHaveLength(12);
        expect(got.every((h) => h.payload.rare === true)).toBe(true);
        const want = await ref.search(filtered);
        // Approximate: nearly all of the exact top 12 (HNSW at 8 dimensions is close to exact).
        expect(got.filter((h) => want.some((w) => w.id === h.id)).length).toBeGreaterThanOrEqual(11);
        const wide = { collection: col, tenantId: 't1', vector, topK: 150 };
        const many = await store.search(wide);
        expect(many).toHaveLength(150);
        const exact = new Set((await ref.search(wide)).map((h) => h.id));
        expect(many.filter((h) => exact.has(h.id)).length).toBeGreaterThanOrEqual(140);
      }
    });

    it('answers an empty collection with [] and a large topK with every point', async () => {
      await setup();
      const vector = randomVector(seeded(8), DIMS);
      expect(await store.search({ collection: col, tenantId: 't1', vector, topK: 10 })).toEqual([]);
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(0);
      const points = samplePoints(seeded(8), 4, DIMS);
      for (const s of [store, ref]) await s.upsert({ collection: col, tenantId: 't1', points });
      const args = { collection: col, tenantId: 't1', vector, topK: 1000 };
      sameAsReference(await store.search(args), await ref.search(args));
      expect(await store.search(args)).toHaveLength(4);
    });

    it('rejects unknown collections, bad filters and invalid vectors with client errors', async () => {
      await setup();
      const vector = randomVector(seeded(10), DIMS);
      await expect(store.search({ collection: `${col}_x`, tenantId: 't1', vector, topK: 1 })).rejects.toMatchObject({ code: 'vector_collection_not_found' });
      await expect(store.count({ collection: col, tenantId: 't1', filter: { score: 0.5 } })).rejects.toMatchObject({ code: 'vector_invalid_input' });
      await expect(store.count({ collection: col, tenantId: 't1', filter: { 'a.b': 'x' } })).rejects.toMatchObject({ code: 'vector_invalid_input' });
      await expect(
        store.upsert({ collection: col, tenantId: 't1', points: [{ id: 'z', vector: new Array(DIMS).fill(0), payload: {} }] }),
      ).rejects.toMatchObject({
        code: 'vector_invalid_input',
      });
      await expect(store.search({ collection: col, tenantId: 't1', vector, topK: 0 })).rejects.toMatchObject({ code: 'vector_invalid_input' });
    });

    it('drops a collection so it can be made again for a new model', async () => {
      await setup(samplePoints(seeded(11), 3, DIMS));
      await store.dropCollection({ name: col });
      await expect(store.getCollection({ name: col })).resolves.toBeNull();
      await expect(store.ensureCollection({ name: col, dimensions: 4, metric: 'cosine', model: 'model-v2' })).resolves.toEqual({ created: true });
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(0);
      await store.upsert({ collection: col, tenantId: 't1', points: [{ id: 'a', vector: [1, 0, 0, 0], payload: {} }] });
      expect(await store.count({ collection: col, tenantId: 't1' })).toBe(1);
    });
  });
}
