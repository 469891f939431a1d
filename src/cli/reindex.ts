import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';
import type { CliIo } from './ingest.js';
import { countLine, createLineProgress, type CountProgress, type Progress } from './progress.js';
import { PARTS, type Part, type PartResult, reindex, UnknownTenantError } from './reindex/run.js';

export const REINDEX_USAGE = `Usage: context-gateway reindex [--only <parts>] [--tenant <id>]

Rebuilds what is derived from SQL, the source of truth, in this process, against the database, Redis
and vector stores of the gateway's configuration (CONFIG_FILE and the environment, read as the gateway
reads them). Migrations are applied first. The parts, in this order:
  redis   drops every session's hot copy (SCAN + UNLINK under redis.keyPrefix); a session is read
          from SQL and copied again on its next request
  turns   empties the turns collection and embeds every turn again (episodic memory)
  chunks  empties the chunks collection and embeds every chunk of every ready document again
  facts   empties the facts collection and embeds every current fact memory again
Without --tenant a collection is dropped and created again, which also removes vectors SQL no longer
knows; with --tenant only that tenant's points are deleted and written again. Gateways may keep
running (with the embedded PGlite database, stop the gateway first): while a part runs their vector
searches find fewer items, full-text search is unaffected. A part with nothing to rebuild here (no
Redis, vectors kept in memory, episodic memory off) is skipped with the reason.

Options:
  --only <parts>  comma-separated parts to rebuild (default all: ${PARTS.join(',')})
  --tenant <id>   only this tenant's hot copies and vectors
  -h, --help      show this help

Exit status: 0 every part rebuilt or skipped, 1 a part failed (or the database could not be opened), 2 usage error.
`;

class UsageError extends Error {}

function parseOptions(argv: string[]): { parts: Part[]; tenantId: string | undefined } | 'help' {
  let values: { only?: string | undefined; tenant?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { only: { type: 'string' }, tenant: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const wanted = (values.only ?? PARTS.join(','))
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const unknown = wanted.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new UsageError(`--only: unknown part "${unknown[0]}" (parts: ${PARTS.join(', ')})`);
  if (wanted.length === 0) throw new UsageError('--only names no part');
  const tenantId = values.tenant?.trim();
  if (values.tenant !== undefined && !tenantId) throw new UsageError('--tenant needs a tenant id');
  return { parts: PARTS.filter((p) => wanted.includes(p)), tenantId };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function summary(results: PartResult[], tenantId: string | undefined, elapsedMs: number): string {
  const failed = results.filter((r) => r.status === 'failed').length;
  let out = `Reindex of ${tenantId === undefined ? 'every tenant' : `tenant ${tenantId}`} ${failed > 0 ? `failed (${failed} part${failed > 1 ? 's' : ''})` : 'done'} in ${seconds(elapsedMs)}\n`;
  for (const r of results) {
    const what = r.status === 'done' ? `${r.count} ${r.detail}` : r.status === 'skipped' ? `skipped: ${r.reason}` : `FAILED: ${r.error}`;
    out += `  ${r.part.padEnd(7)} ${what} (${seconds(r.ms)})\n`;
  }
  return out;
}

/** `context-gateway reindex`: resolves to the exit status (0 rebuilt, 1 a part failed, 2 usage). */
export async function runReindex(argv: string[], io: CliIo): Promise<number> {
  const started = Date.now();
  const fail = (message: string, code: number) => {
    io.stderr.write(`context-gateway reindex: ${message}\n${code === 2 ? 'Run "context-gateway reindex --help" for usage.\n' : ''}`);
    return code;
  };
  let opts: ReturnType<typeof parseOptions>;
  let config: Config;
  try {
    opts = parseOptions(argv);
    if (opts === 'help') {
      io.stdout.write(REINDEX_USAGE);
      return 0;
    }
    config = loadConfig(io.env);
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, 2);
    if (err instanceof ConfigError) return fail(err.message, 1);
    throw err;
  }
  // The command's own lines say what happens (a skipped part says why); the adapters' info and warning
  // lines would repeat them as JSON. Any other level (debug, trace, error, silent) is honoured.
  const level = config.log.level === 'info' || config.log.level === 'warn' ? 'error' : config.log.level;
  const log = createLogger(level, pino.destination({ fd: 2, sync: true }));
  let progress: Progress<CountProgress> | undefined;
  let counts: CountProgress = { label: '', done: 0 };
  let fresh = false;
  try {
    const results = await reindex({
      config,
      log,
      parts: opts.parts,
      tenantId: opts.tenantId,
      onPart({ part, result }) {
        if (!result) {
          counts = { label: part, done: 0, unit: part === 'redis' ? 'keys' : undefined };
          progress = createLineProgress(io.stderr, countLine);
          fresh = true;
          return;
        }
        progress?.done();
        // One line per part stays: where it ended, and how long it took.
        const end = result.status === 'done' ? countLine(counts, 0) : `${part} ${result.status}`;
        io.stderr.write(`${end} · ${seconds(result.ms)}\n`);
      },
      onProgress(part, done, total) {
        counts = { label: part, done, total, unit: counts.unit };
        // The first count of a part is shown at once (with its total); later ones when due.
        progress?.update(counts, fresh);
        fresh = false;
      },
    });
    io.stdout.write(summary(results, opts.tenantId, Date.now() - started));
    return results.some((r) => r.status === 'failed') ? 1 : 0;
  } catch (err) {
    progress?.done();
    if (err instanceof UnknownTenantError) return fail(err.message, 2);
    return fail((err as Error).message, 1);
  }
}
