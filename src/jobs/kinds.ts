import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { SUMMARIZE_JOB, type SummarizeJob, type Summarizer, summaryKey } from '../memory/summaries/summarizer.js';
import type { SummaryStore } from '../memory/summaries/store.js';
import { EXTRACT_FACTS_JOB, type ExtractFactsJob, type FactExtractor, factsKey } from '../memory/facts/extractor.js';
import type { Sql } from '../store/sql.js';
import type { JobQueue } from './port.js';

/** Sessions a sweep enqueues at most per pass. */
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
    queue.define<SummarizeJob>(SUMMARIZE_JOB, (job) => summaries.summarizer.run(job, queue), {
      concurrency: 1,
      attempts: config.jobs.attempts,
      backoffMs: config.jobs.backoffMs,
    });
  }
  const facts = deps.facts;
  if (facts) {
    queue.define<ExtractFactsJob>(EXTRACT_FACTS_JOB, (job) => facts.run(job, queue), {
      concurrency: 1,
      attempts: config.jobs.attempts,
      backoffMs: config.jobs.backoffMs,
    });
  }
  if (!deps.process) return { stop() {} };
  await queue.start();
  /** Enqueues `kind` for every session `due` lists (a job that failed for good excepted), now and every `intervalMs`. */
  const sweep = (
    kind: string,
    intervalMs: number,
    due: () => Promise<Array<{ tenantId: string; sessionId: string }>>,
    key: (job: { tenantId: string; sessionId: string }) => string,
  ) => {
    const pass = async () => {
      const [jobs, failed] = await Promise.all([due(), failedKeys(kind)]);
      for (const job of jobs) if (!failed.has(key(job))) await queue.enqueue(kind, job, { key: key(job) });
    };
    const run = () => void pass().catch((err: unknown) => log.warn({ kind, err: (err as Error).message }, 'sweep failed; the next one retries'));
    run();
    const timer = setInterval(run, intervalMs);
    timer.unref();
    timers.push(timer);
  };
  if (summaries) {
    // Sessions whose unsummarised tail reached the trigger.
    sweep(
      SUMMARIZE_JOB,
      config.memory.summary.sweepIntervalMs,
      () => summaries.store.overTrigger(config.memory.summary.triggerTokens, SWEEP_BATCH),
      summaryKey,
    );
  }
  if (facts) {
    // Sessions with a user and turns the extractor has not read (a lost job, a flushed Redis).
    sweep(
      EXTRACT_FACTS_JOB,
      config.memory.facts.sweepIntervalMs,
      async () =>
        (
          await deps.sql.query<{ tenant_id: string; id: string }>(
            `SELECT tenant_id, id FROM sessions WHERE user_id IS NOT NULL AND last_seq > facts_seq ORDER BY updated_at LIMIT ${SWEEP_BATCH}`,
          )
        ).rows.map((r) => ({ tenantId: r.tenant_id, sessionId: r.id })),
      factsKey,
    );
  }
  return {
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}
