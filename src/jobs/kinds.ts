import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { SUMMARIZE_JOB, type SummarizeJob, type Summarizer, summaryKey } from '../memory/summaries/summarizer.js';
import type { SummaryStore } from '../memory/summaries/store.js';
import { EXTRACT_FACTS_JOB, type ExtractFactsJob, type FactExtractor, factsKey } from '../memory/facts/extractor.js';
import type { Sql } from '../store/sql.js';
import type { JobQueue } from './port.js';

/** Sessions the summary sweep enqueues at most per pass. */
const SWEEP_BATCH = 500;
/** Failed jobs the sweep looks at to leave alone. */
const FAILED_SEEN = 1000;

/**
 * Declares the job kinds on a queue — the same in the gateway (embedded default, or `jobs.process`)
 * and in `workers/` — and, when this process processes jobs, starts them with the periodic sweep
 * that enqueues again whatever SQL says is missing (a lost or flushed job only delays work).
 */
export async function startJobKinds(deps: {
  queue: JobQueue;
  config: Config;
  summaries: { store: SummaryStore; summarizer: Summarizer } | undefined;
  /** Fact extraction, when a model is configured for it. */
  facts: FactExtractor | undefined;
  sql: Sql;
  process: boolean;
  log: Logger;
}): Promise<{ stop(): void }> {
  const { queue, config, log } = deps;
  const timers: NodeJS.Timeout[] = [];
  // A job that failed for good is not retried by the sweep (it would call a failing model every
  // pass): the next append of its session, or an operator, enqueues it again.
  const failedKeys = async (kind: string) => new Set((await queue.failed(FAILED_SEEN)).filter((f) => f.kind === kind).map((f) => f.key));
  const summaries = deps.summaries;
  if (summaries) {
    queue.define<SummarizeJob>(SUMMARIZE_JOB, (job) => summaries.summarizer.run(job, queue), { concurrency: 1, attempts: config.jobs.attempts, backoffMs: config.jobs.backoffMs });
  }
  const facts = deps.facts;
  if (facts) {
    queue.define<ExtractFactsJob>(EXTRACT_FACTS_JOB, (job) => facts.run(job, queue), { concurrency: 1, attempts: config.jobs.attempts, backoffMs: config.jobs.backoffMs });
  }
  if (!deps.process) return { stop() {} };
  await queue.start();
  if (summaries) {
    const sweep = async () => {
      const due = await summaries.store.overTrigger(config.memory.summary.triggerTokens, SWEEP_BATCH);
      const failed = await failedKeys(SUMMARIZE_JOB);
      for (const job of due) if (!failed.has(summaryKey(job))) await queue.enqueue(SUMMARIZE_JOB, job, { key: summaryKey(job) });
    };
    const run = () => void sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'summary sweep failed; the next one retries'));
    run();
    const timer = setInterval(run, config.memory.summary.sweepIntervalMs);
    timer.unref();
    timers.push(timer);
  }
  if (facts) {
    // Sessions with a user and turns the extractor has not read (a lost job, a flushed Redis).
    const sweep = async () => {
      const { rows } = await deps.sql.query<{ tenant_id: string; id: string }>(
        `SELECT tenant_id, id FROM sessions WHERE user_id IS NOT NULL AND last_seq > facts_seq ORDER BY updated_at LIMIT ${SWEEP_BATCH}`,
      );
      const failed = await failedKeys(EXTRACT_FACTS_JOB);
      for (const r of rows) {
        const job = { tenantId: r.tenant_id, sessionId: r.id };
        if (!failed.has(factsKey(job))) await queue.enqueue(EXTRACT_FACTS_JOB, job, { key: factsKey(job) });
      }
    };
    const run = () => void sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'fact sweep failed; the next one retries'));
    run();
    const timer = setInterval(run, config.memory.facts.sweepIntervalMs);
    timer.unref();
    timers.push(timer);
  }
  return {
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}
