import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Embedder } from '../../embeddings/port.js';
import type { JobQueue } from '../../jobs/port.js';
import { completeText } from '../../providers/router/complete.js';
import type { Router } from '../../providers/router/router.js';
import { getTokenizer } from '../../tokens/tokenizer.js';
import type { Transcript } from '../transcript.js';
import type { Turn } from '../turns.js';
import { extractiveSummary, type SummarySentence, splitSentences } from './extractive.js';
import type { StoredSummary, SummaryStore } from './store.js';

export const SUMMARIZE_JOB = 'summarize';

export interface SummarizeJob {
  tenantId: string;
  sessionId: string;
}

/** Turns one job folds at most (a long imported history is summarised over several runs). */
const MAX_FOLD_TURNS = 400;
/** Folds per job before it hands over to a fresh job (so one huge session cannot hold a worker). */
const MAX_FOLDS_PER_JOB = 10;

const SYSTEM_PROMPT = `You keep the running summary of a conversation, the long-term memory of an assistant.
Rewrite the summary so that it also covers the new turns. Keep every name, date, number, decision, preference,
plan, commitment and open question; write dates as absolute dates (resolve "yesterday" or "next week" against
the date of the turn that says it). Leave out greetings and small talk. Third person, plain sentences, no
headings or bullet points. Answer with the summary only.`;

/** How a turn is shown to the summary writer: its day, its speaker, its text. */
export function turnLine(t: Pick<Turn, 'role' | 'content' | 'fields' | 'createdAt'>): SummarySentence {
  return { prefix: `[${t.createdAt.slice(0, 10)}] ${t.fields?.name ?? t.role}: `, text: t.content.replace(/\s+/g, ' ').trim() };
}

/**
 * The `summarize` job: folds a session's unsummarised turns — all but the newest `keepRecentTokens`
 * — and its newest summary into the next summary version, with the configured model or, without
 * one, extractively. Derived from state and idempotent: it reads what is left to fold, and a
 * version another worker stored first wins (this one's work is dropped).
 */
export function createSummarizer(deps: {
  store: SummaryStore;
  transcript: Pick<Transcript, 'page'>;
  embedder: Embedder;
  router: Router;
  config: Config['memory']['summary'];
  log: Logger;
}) {
  const { store, config } = deps;
  const tokenizer = getTokenizer('o200k_base');

  /** The turns to fold: the tail minus its newest `keepRecentTokens`; empty when under the trigger. */
  function foldable(tail: readonly Turn[]): Turn[] {
    let total = 0;
    for (const t of tail) total += t.tokenCount;
    if (total < config.triggerTokens) return [];
    let kept = 0;
    let cut = tail.length;
    while (cut > 0 && kept + (tail[cut - 1] as Turn).tokenCount <= config.keepRecentTokens) {
      cut--;
      kept += (tail[cut] as Turn).tokenCount;
    }
    return tail.slice(0, cut);
  }

  async function write(previous: StoredSummary | undefined, turns: readonly Turn[]): Promise<{ text: string; method: StoredSummary['method']; model: string | null }> {
    if (config.model) {
      const lines = turns.map((t) => {
        const l = turnLine(t);
        return `${l.prefix}${l.text}`;
      });
      const user = `${previous ? `Summary so far:\n${previous.text}\n\n` : ''}New turns:\n${lines.join('\n')}\n\nWrite the updated summary in at most ${Math.floor(config.maxTokens * 0.7)} words.`;
      const messages = [
        { role: 'system' as const, content: SYSTEM_PROMPT },
        { role: 'user' as const, content: user },
      ];
      const text = await completeText(deps.router, config.model, { messages, max_tokens: config.maxTokens, temperature: 0 }, config.timeoutMs);
      return { text: truncate(text, config.maxTokens), method: 'llm', model: config.model };
    }
    const sentences: SummarySentence[] = [
      ...(previous ? previous.text.split('\n').filter((l) => l.trim()).map((text) => ({ prefix: '', text })) : []),
      ...turns.flatMap((t) => {
        const line = turnLine(t);
        return splitSentences(line.text).map((text) => ({ prefix: line.prefix, text }));
      }),
    ];
    return { text: await extractiveSummary(sentences, { embedder: deps.embedder, tokenizer, maxTokens: config.maxTokens }), method: 'extractive', model: null };
  }

  /** Cuts a model's answer that ran over `maxTokens` at a sentence end (it was asked for less). */
  function truncate(text: string, maxTokens: number): string {
    if (tokenizer.count(text) <= maxTokens) return text;
    const out: string[] = [];
    let used = 0;
    for (const s of text.split(/(?<=[.!?])\s+/)) {
      const cost = tokenizer.count(s) + 1;
      if (used + cost > maxTokens) break;
      out.push(s);
      used += cost;
    }
    return out.join(' ');
  }

  /** One fold; false when there is nothing (more) to fold. */
  async function foldOnce(job: SummarizeJob): Promise<boolean> {
    const previous = await store.newest(job.tenantId, job.sessionId);
    const tail = await deps.transcript.page(job.tenantId, job.sessionId, { afterSeq: previous?.toSeq ?? 0, limit: MAX_FOLD_TURNS });
    const turns = foldable(tail);
    if (turns.length === 0) return false;
    const written = await write(previous, turns);
    const last = turns[turns.length - 1] as Turn;
    const saved = await store.save(
      job.tenantId,
      job.sessionId,
      {
        version: (previous?.version ?? 0) + 1,
        fromSeq: previous?.fromSeq ?? (turns[0] as Turn).seq,
        toSeq: last.seq,
        text: written.text,
        tokens: tokenizer.count(written.text),
        encoding: 'o200k_base',
        method: written.method,
        model: written.model,
      },
      turns.reduce((n, t) => n + t.tokenCount, 0),
    );
    deps.log.debug({ session: job.sessionId, toSeq: last.seq, saved, method: written.method }, 'session summarised');
    return saved;
  }

  return {
    /** The job handler: folds until the tail is under the trigger (or hands over to a fresh job). */
    async run(job: SummarizeJob, queue: Pick<JobQueue, 'enqueue'>): Promise<void> {
      for (let i = 0; i < MAX_FOLDS_PER_JOB; i++) if (!(await foldOnce(job))) return;
      await queue.enqueue(SUMMARIZE_JOB, job, { key: summaryKey(job) });
    },
  };
}

export const summaryKey = (job: SummarizeJob): string => `${job.tenantId}/${job.sessionId}`;

export type Summarizer = ReturnType<typeof createSummarizer>;
