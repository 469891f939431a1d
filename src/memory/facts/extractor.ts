import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { GatewayError } from '../../errors.js';
import { completeText } from '../../providers/router/complete.js';
import type { Router } from '../../providers/router/router.js';
import type { Sql } from '../../store/sql.js';
import type { Transcript } from '../transcript.js';
import type { Turn } from '../turns.js';
import type { FactIndex } from './index.js';
import { MEMORY_CATEGORIES, type Memory, type MemoryStore, type SourceTurn } from './store.js';

export const EXTRACT_FACTS_JOB = 'extract_facts';

export interface ExtractFactsJob {
  tenantId: string;
  sessionId: string;
}

export const factsKey = (job: ExtractFactsJob): string => `${job.tenantId}/${job.sessionId}`;

/** Turns read per extraction (a long imported history is read over several runs). */
const BATCH_TURNS = 40;
/** Existing memories shown to the reconciler per new fact. */
const SIMILAR_PER_FACT = 5;
/** Rounds per job before it hands over to a fresh one. */
const MAX_ROUNDS = 10;

const extracted = z.object({
  facts: z
    .array(
      z.object({
        text: z.string().min(1).max(1000),
        category: z.enum(MEMORY_CATEGORIES as [string, ...string[]]),
        date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullable(),
        turns: z.array(z.number().int()),
      }),
    )
    .max(50),
});

const decided = z.object({
  operations: z.array(
    z.object({
      fact: z.number().int().min(0),
      action: z.enum(['add', 'update', 'invalidate', 'none']),
      id: z.string().nullable(),
      text: z.string().min(1).max(1000).nullable(),
    }),
  ),
});

const EXTRACT_PROMPT = `You extract durable facts about the user from a conversation, for an assistant's long-term memory.
Facts worth keeping: who the user is, where they live and work, their preferences, plans and commitments, the
people in their life (family, friends, colleagues, pets) and the events they mention. Write each fact as one
self-contained sentence in the third person that names the user when their name is known ("Ada lives in Lyon").
Resolve relative dates ("yesterday", "next Tuesday") against the date of the turn that says them, and give the
date of an event or plan as "date" (YYYY-MM-DD), else null. Keep only what the user states or confirms, not the
assistant's suggestions; skip small talk. "turns" lists the numbers (#) of the turns a fact comes from. When there
is nothing to keep, answer {"facts": []}.`;

const RECONCILE_PROMPT = `You keep an assistant's long-term memory about a user consistent. You get the memories it has
(id: text) and new facts (numbered). For every new fact choose one operation:
- "add": the fact is new (id null, text null).
- "update": it refines or corrects an existing memory about the same thing ("actually it was Tuesday"); id = that
  memory, text = the corrected memory in full.
- "invalidate": it makes an existing memory no longer true (the user moved, changed jobs, renamed a pet); id = the
  memory that stops being true; the new fact is stored in its place (text null).
- "none": the memory already says it (id = that memory, text null).
Answer with one operation per new fact.`;

function jsonSchemaFormat(name: string, schema: z.ZodType) {
  return { type: 'json_schema' as const, json_schema: { name, schema: z.toJSONSchema(schema) as Record<string, unknown>, strict: true } };
}

/**
 * The `extract_facts` job: reads a session's turns after its `facts_seq` watermark, asks the
 * configured model for the facts they state (structured output, validated by zod), reconciles each
 * with the user's similar current memories (add, update, invalidate, or none), and applies the
 * result and the new watermark in one transaction — guarded by the old watermark, so two workers
 * racing on a session store its facts once. Vectors are written after the commit.
 */
export function createFactExtractor(deps: { sql: Sql; transcript: Pick<Transcript, 'page'>; store: MemoryStore; index: FactIndex; router: Router; config: Config['memory']['facts']; log: Logger }) {
  const { sql, store, index, config } = deps;

  async function ask<T>(schema: z.ZodType<T>, name: string, system: string, user: string): Promise<T> {
    const model = config.model as string;
    const messages = [
      { role: 'system' as const, content: system },
      { role: 'user' as const, content: user },
    ];
    const content = await completeText(deps.router, model, { messages, temperature: 0, response_format: jsonSchemaFormat(name, schema) }, config.timeoutMs);
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch {
      throw new GatewayError(`the memory model "${model}" answered ${name} with text that is not JSON`, { status: 502, code: 'upstream_error', category: 'upstream' });
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      throw new GatewayError(`the memory model "${model}" answered ${name} with JSON of the wrong shape: ${result.error.issues[0]?.message ?? 'invalid'}`, {
        status: 502,
        code: 'upstream_error',
        category: 'upstream',
      });
    }
    return result.data;
  }

  /** One batch of turns; false when the session has nothing left to read (or no user). */
  async function round(job: ExtractFactsJob): Promise<boolean> {
    const { rows: sessions } = await sql.query<{ user_id: string | null; facts_seq: number }>('SELECT user_id, facts_seq FROM sessions WHERE tenant_id = $1 AND id = $2', [
      job.tenantId,
      job.sessionId,
    ]);
    const session = sessions[0];
    if (!session?.user_id) return false;
    const userId = session.user_id;
    const turns = await deps.transcript.page(job.tenantId, job.sessionId, { afterSeq: session.facts_seq, limit: BATCH_TURNS });
    const last = turns[turns.length - 1];
    if (!last) return false;
    const spoken = turns.filter((t) => t.role === 'user' || t.role === 'assistant');
    const facts = spoken.length === 0 ? [] : (await ask(extracted, 'facts', EXTRACT_PROMPT, renderTurns(spoken))).facts;
    const seqs = new Set(turns.map((t) => t.seq));
    const sourcesOf = (f: { turns: number[] }): SourceTurn[] => f.turns.filter((s) => seqs.has(s)).map((seq) => ({ session_id: job.sessionId, seq }));

    // The user's current memories closest to each new fact: what the reconciler may touch.
    const similar = new Map<string, Memory>();
    if (facts.length > 0) {
      const found = await index.similar(job.tenantId, userId, facts.map((f) => f.text), SIMILAR_PER_FACT);
      for (const m of found) similar.set(m.id, m);
    }
    const operations =
      facts.length === 0
        ? []
        : similar.size === 0
          ? facts.map((_, i) => ({ fact: i, action: 'add' as const, id: null, text: null }))
          : (await ask(decided, 'operations', RECONCILE_PROMPT, renderReconcile([...similar.values()], facts.map((f) => f.text)))).operations;

    const touched: string[] = [];
    const gone: string[] = [];
    const applied = await sql.transaction(async (tx) => {
      const done = new Set<number>();
      for (const op of operations) {
        const fact = facts[op.fact];
        if (!fact || done.has(op.fact)) continue;
        done.add(op.fact);
        const sourceTurns = sourcesOf(fact);
        const target = op.id ? similar.get(op.id) : undefined;
        const base = { userId, sessionId: job.sessionId, category: fact.category as Memory['category'], eventAt: fact.date, source: 'extracted' as const, sourceTurns };
        if (op.action === 'none' && target) {
          await store.restate(tx, job.tenantId, target.id, sourceTurns);
        } else if (op.action === 'update' && target) {
          touched.push((await store.update(tx, job.tenantId, target.id, { text: op.text ?? fact.text, eventAt: fact.date ?? target.event_at }, { actor: 'extractor', sourceTurns })).id);
        } else if (op.action === 'invalidate' && target) {
          const added = await store.add(tx, job.tenantId, { ...base, text: fact.text, replaces: target.id });
          await store.invalidate(tx, job.tenantId, target.id, { actor: 'extractor', supersededBy: added.id, sourceTurns });
          touched.push(added.id);
          gone.push(target.id);
        } else {
          // "add", or an operation naming a memory it was not shown: the fact is kept as new.
          touched.push((await store.add(tx, job.tenantId, { ...base, text: fact.text })).id);
        }
      }
      // A fact the model left without an operation is kept as new rather than lost.
      for (let i = 0; i < facts.length; i++) {
        if (done.has(i)) continue;
        const fact = facts[i] as (typeof facts)[number];
        touched.push((await store.add(tx, job.tenantId, { userId, sessionId: job.sessionId, text: fact.text, category: fact.category as Memory['category'], eventAt: fact.date, source: 'extracted', sourceTurns: sourcesOf(fact) })).id);
      }
      const moved = await tx.query('UPDATE sessions SET facts_seq = $3 WHERE tenant_id = $1 AND id = $2 AND facts_seq = $4', [job.tenantId, job.sessionId, last.seq, session.facts_seq]);
      // Another worker read these turns first: roll back, its facts stand.
      if (moved.rowCount === 0) throw new Superseded();
      return true;
    }).catch((err: unknown) => {
      if (err instanceof Superseded) return false;
      throw err;
    });
    if (!applied) return false;
    await index.write(job.tenantId, await store.getMany(job.tenantId, touched), gone);
    deps.log.debug({ session: job.sessionId, facts: facts.length, toSeq: last.seq }, 'facts extracted');
    return true;
  }

  return {
    async run(job: ExtractFactsJob, queue: { enqueue(kind: string, data: ExtractFactsJob, o: { key: string }): Promise<void> }): Promise<void> {
      for (let i = 0; i < MAX_ROUNDS; i++) if (!(await round(job))) return;
      await queue.enqueue(EXTRACT_FACTS_JOB, job, { key: factsKey(job) });
    },
  };
}

class Superseded extends Error {}

function renderTurns(turns: readonly Turn[]): string {
  return turns.map((t) => `#${t.seq} [${t.createdAt.slice(0, 10)}] ${t.fields?.name ?? t.role}: ${t.content.replace(/\s+/g, ' ').trim()}`).join('\n');
}

function renderReconcile(memories: readonly Memory[], facts: readonly string[]): string {
  return `Memories:\n${memories.map((m) => `${m.id}: ${m.text}`).join('\n')}\n\nNew facts:\n${facts.map((f, i) => `${i}: ${f}`).join('\n')}`;
}

export type FactExtractor = ReturnType<typeof createFactExtractor>;
