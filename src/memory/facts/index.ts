import type { Logger } from 'pino';
import type { Embedder } from '../../embeddings/port.js';
import { createTtlMemo } from '../../memo.js';
import { modelCollection } from '../../vector/naming.js';
import type { CollectionSpec, VectorStore } from '../../vector/port.js';
import type { Memory, MemoryStore } from './store.js';

/** A user with at most this many current memories has all of them reconciled against (no search). */
const SMALL_USER = 20;
/** Memories re-embedded per query by `rebuild`. */
const REBUILD_PAGE = 256;
/** How long "this user has facts" is believed (a new fact from another process shows up after it). */
const HAS_FACTS_TTL_MS = 5_000;

/** The vector collection of a deployment's fact memories; searches filter on the user. */
export function factCollection(embedder: Pick<Embedder, 'model' | 'dimensions'>): CollectionSpec {
  return modelCollection('facts', embedder, ['user']);
}

/**
 * The vectors of current fact memories (one point per memory, named by its id). SQL stays the truth:
 * a search returns memories read back from SQL and still current, so a vector left behind by a
 * failed delete can never bring back an invalidated or deleted fact.
 */
export function createFactIndex(deps: {
  store: MemoryStore;
  vectors: VectorStore;
  embedder: Embedder;
  log: Logger;
  /** Told after a user's memories changed (the response cache forgets answers built from them). */
  onChange?: ((tenantId: string, userId: string) => void) | undefined;
}) {
  const { store, vectors, embedder } = deps;
  const spec = factCollection(embedder);
  const hasFacts = createTtlMemo<boolean>(HAS_FACTS_TTL_MS);
  const userKey = (tenantId: string, userId: string) => `${tenantId}\u0000${userId}`;
  let ready: Promise<unknown> | undefined;
  const ensure = () => {
    ready ??= vectors.ensureCollection(spec).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };

  async function current(tenantId: string, ids: Iterable<string>): Promise<Memory[]> {
    return (await store.getMany(tenantId, [...new Set(ids)])).filter((m) => m.valid_to === null);
  }

  /** Writes the vectors of new or changed memories and removes those of memories no longer current. */
  async function write(tenantId: string, memories: readonly Memory[], gone: readonly string[]): Promise<void> {
    for (const m of memories) hasFacts.delete(userKey(tenantId, m.user_id));
    await ensure();
    const live = memories.filter((m) => m.valid_to === null);
    if (live.length > 0) {
      const embedded = await embedder.embed(
        live.map((m) => m.text),
        { kind: 'document' },
      );
      await vectors.upsert({
        collection: spec.name,
        tenantId,
        points: live.map((m, i) => ({ id: m.id, vector: embedded[i] as Float32Array, payload: { user: m.user_id, session: m.session_id ?? '' } })),
      });
    }
    const remove = [...gone, ...memories.filter((m) => m.valid_to !== null).map((m) => m.id)];
    if (remove.length > 0) await vectors.delete({ collection: spec.name, tenantId, ids: remove });
    for (const userId of new Set(memories.map((m) => m.user_id))) deps.onChange?.(tenantId, userId);
  }

  return {
    spec,

    /** The user's current memories closest to any of `texts` (all of them for a user with few). */
    async similar(tenantId: string, userId: string, texts: readonly string[], perText: number): Promise<Memory[]> {
      const few = await store.list(tenantId, userId, { includeInvalid: false, limit: SMALL_USER + 1 });
      if (few.length <= SMALL_USER) return few;
      await ensure();
      const queries = await embedder.embed(texts, { kind: 'query' });
      const hits = await Promise.all(queries.map((vector) => vectors.search({ collection: spec.name, tenantId, vector, topK: perText, filter: { user: userId } })));
      return current(
        tenantId,
        hits.flat().map((h) => h.id),
      );
    },

    /**
     * Whether the user has any current memory (memoised a few seconds): most users of a chat app have
     * none, and their requests then skip the query embedding and the search.
     */
    has(tenantId: string, userId: string): Promise<boolean> {
      return hasFacts.get(userKey(tenantId, userId), async () => {
        const { rows } = await store.sql.query<{ has: boolean }>(
          'SELECT EXISTS (SELECT 1 FROM memories WHERE tenant_id = $1 AND user_id = $2 AND valid_to IS NULL) AS has',
          [tenantId, userId],
          { prepare: 'memories_exist' },
        );
        return rows[0]?.has === true;
      });
    },

    /** The user's current memories most similar to `vector`, best first, with their similarity. */
    async search(tenantId: string, userId: string, vector: Float32Array, topK: number): Promise<Array<{ memory: Memory; score: number }>> {
      await ensure();
      const hits = await vectors.search({ collection: spec.name, tenantId, vector, topK, filter: { user: userId } });
      const byId = new Map((await current(tenantId, hits.map((h) => h.id))).map((m) => [m.id, m]));
      return hits.flatMap((h) => {
        const memory = byId.get(h.id);
        return memory ? [{ memory, score: h.score }] : [];
      });
    },

    write,

    /** Removes the vectors of memories of `userId` deleted from SQL. */
    async forget(tenantId: string, userId: string, ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await ensure();
      await vectors.delete({ collection: spec.name, tenantId, ids });
      deps.onChange?.(tenantId, userId);
    },

    async forgetUser(tenantId: string, userId: string): Promise<void> {
      await ensure();
      await vectors.deleteByFilter({ collection: spec.name, tenantId, filter: { user: userId } });
    },

    /**
     * Writes the vector of every current memory again, from SQL, in pages — of one tenant or of all
     * (a store that forgets on restart is refilled at start; the reindex uses it too). Returns how
     * many were written.
     */
    async rebuild(opts: { tenantId?: string | undefined; onPage?: (done: number) => void } = {}): Promise<number> {
      await ensure();
      let after = { tenant: '', id: '' };
      let done = 0;
      for (;;) {
        const { rows } = await store.sql.query<{ tenant_id: string; id: string }>(
          `SELECT tenant_id, id FROM memories WHERE valid_to IS NULL AND ($3::text IS NULL OR tenant_id = $3) AND (tenant_id, id) > ($1, $2)
           ORDER BY tenant_id, id LIMIT ${REBUILD_PAGE}`,
          [after.tenant, after.id, opts.tenantId ?? null],
        );
        const last = rows[rows.length - 1];
        if (!last) return done;
        const byTenant = new Map<string, string[]>();
        for (const r of rows) byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), r.id]);
        for (const [tenantId, ids] of byTenant) await write(tenantId, await store.getMany(tenantId, ids), []);
        done += rows.length;
        opts.onPage?.(done);
        after = { tenant: last.tenant_id, id: last.id };
      }
    },

    /** Points of a user in the store (the right-to-be-forgotten test reads it). */
    async count(tenantId: string, userId: string): Promise<number> {
      await ensure();
      return vectors.count({ collection: spec.name, tenantId, filter: { user: userId } });
    },
  };
}

export type FactIndex = ReturnType<typeof createFactIndex>;
