import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CallError, createClient, type GatewayClient, type Json } from './client.js';
import { findFiles, InputError } from './ingest/files.js';
import { ingestFiles, type RunResult } from './ingest/run.js';
import { openState, StateError } from './ingest/state.js';
import { createProgress, formatBytes, formatDuration, type ProgressStream } from './progress.js';

/** What a command is given instead of reaching for `process`: testable in-process, or spawned. */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';
const DEFAULT_EXTENSIONS = 'txt,md,markdown,html,htm,pdf,docx,json,csv';
const DEFAULT_STATE = '.context-gateway-ingest.json';
const DEFAULT_CONCURRENCY = 2;
/** More parallel uploads than this only queue up behind the gateway's parsers and embedder. */
const MAX_CONCURRENCY = 32;

export const INGEST_USAGE = `Usage: context-gateway ingest <folder|file>... --collection <id|name> [options]

Uploads files to a collection, one request per file. Folders are walked recursively (dot-files,
dot-folders and node_modules are skipped); files named directly are taken whatever their extension.
Each document's external id is its path relative to the folder walked, so a changed file replaces
its previous version. Resumable: a file uploaded before and unchanged since is skipped.

Options:
  --collection <id|name>  the collection to fill (required)
  --create                create the collection when none has that name
  --url <url>             the gateway (default $CONTEXT_GATEWAY_URL or ${DEFAULT_URL})
  --key <key>             an API key of the tenant (default $CONTEXT_GATEWAY_API_KEY)
  --concurrency <n>       uploads in parallel (default ${DEFAULT_CONCURRENCY})
  --ext <list>            extensions taken from folders (default ${DEFAULT_EXTENSIONS})
  --metadata <json>       a JSON object stored as every document's metadata
  --state <file>          the resume file (default ./${DEFAULT_STATE})
  --no-wait               return once uploaded, without waiting for ingestion to finish
  -h, --help              show this help

Exit status: 0 every file ingested, 1 some file failed (or the gateway refused the run), 2 usage error.
`;

class UsageError extends Error {}

interface IngestOptions {
  inputs: string[];
  collection: string;
  create: boolean;
  url: string;
  key: string | undefined;
  concurrency: number;
  exts: Set<string>;
  metadata: string | undefined;
  statePath: string;
  wait: boolean;
}

function parseOptions(argv: string[], io: CliIo): IngestOptions | 'help' {
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        collection: { type: 'string' },
        create: { type: 'boolean' },
        url: { type: 'string' },
        key: { type: 'string' },
        concurrency: { type: 'string' },
        ext: { type: 'string' },
        metadata: { type: 'string' },
        state: { type: 'string' },
        'no-wait': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  try {
    parsed = parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return 'help';
  if (positionals.length === 0) throw new UsageError('name at least one folder or file to ingest');
  if (!v.collection?.trim()) throw new UsageError('--collection <id|name> is required');
  const concurrency = v.concurrency === undefined ? DEFAULT_CONCURRENCY : Number(v.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  const exts = new Set(
    (v.ext ?? DEFAULT_EXTENSIONS)
      .split(',')
      .map((e) => e.trim().replace(/^\./, '').toLowerCase())
      .filter(Boolean),
  );
  if (exts.size === 0) throw new UsageError('--ext names no extension');
  let metadata: string | undefined;
  if (v.metadata !== undefined) {
    let m: unknown;
    try {
      m = JSON.parse(v.metadata);
    } catch {
      throw new UsageError('--metadata is not valid JSON');
    }
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new UsageError('--metadata must be a JSON object, e.g. \'{"team":"hr"}\'');
    metadata = JSON.stringify(m);
  }
  // Accept the base URL with or without the /v1 that OpenAI clients are given.
  const url = (v.url ?? io.env.CONTEXT_GATEWAY_URL ?? DEFAULT_URL).replace(/\/+$/, '').replace(/\/v1$/, '');
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  const key = v.key ?? io.env.CONTEXT_GATEWAY_API_KEY;
  if (!key) throw new UsageError('no API key: pass --key or set CONTEXT_GATEWAY_API_KEY');
  return {
    inputs: positionals,
    collection: v.collection.trim(),
    create: v.create === true,
    url,
    key,
    concurrency,
    exts,
    metadata,
    statePath: resolve(io.cwd, v.state ?? DEFAULT_STATE),
    wait: v['no-wait'] !== true,
  };
}

/** An id or a name (ids win); with `create`, a name nobody has is created. */
async function resolveCollection(client: GatewayClient, wanted: string, create: boolean): Promise<{ id: string; name: string }> {
  const find = async () => {
    const list: Json[] = (await client.json('GET', '/v1/collections')).data ?? [];
    const byId = list.find((c) => c.id === wanted);
    if (byId) return byId;
    const byName = list.filter((c) => c.name === wanted);
    if (byName.length > 1) throw new UsageError(`several collections are named "${wanted}"; pass the id of one (${byName.map((c) => c.id).join(', ')})`);
    return byName[0];
  };
  const found = await find();
  if (found) return { id: found.id, name: found.name };
  if (!create) throw new UsageError(`no collection "${wanted}" is visible to this key; pass --create to create it`);
  try {
    const created = await client.json('POST', '/v1/collections', { body: { name: wanted } });
    return { id: created.id, name: created.name };
  } catch (err) {
    // Created meanwhile by another run: use it.
    const again = err instanceof CallError && err.status === 409 ? await find() : undefined;
    if (again) return { id: again.id, name: again.name };
    throw err;
  }
}

function summary(r: RunResult, collection: { id: string; name: string }, elapsedMs: number, wait: boolean): string {
  const n = (kind: string) => r.outcomes.filter((o) => o.kind === kind).length;
  const replaced = r.outcomes.filter((o) => o.replaced).length;
  const failed = r.outcomes.filter((o) => o.kind === 'failed');
  const row = (label: string, value: string) => `  ${label.padEnd(10)} ${value}\n`;
  let out = `Collection "${collection.name}" (${collection.id})\n`;
  out += row('uploaded', `${n('uploaded')}${replaced > 0 ? ` (${replaced} replaced an earlier version)` : ''}`);
  out += row('unchanged', String(n('unchanged')));
  out += row('failed', String(failed.length));
  out += row('chunks', wait ? String(r.chunks) : `${r.chunks} (ingestion not waited for)`);
  out += row('bytes', formatBytes(r.bytesUploaded));
  out += row('time', elapsedMs < 60_000 ? `${(elapsedMs / 1000).toFixed(1)} s` : formatDuration(elapsedMs));
  if (r.unconfirmed > 0) out += `${r.unconfirmed} document(s) were still being ingested when the gateway stopped answering.\n`;
  if (failed.length > 0) out += `Failed:\n${failed.map((o) => `  ${o.file.rel}: ${o.reason}\n`).join('')}`;
  if (r.aborted) out += `Stopped early: ${r.aborted}\n`;
  return out;
}

/** `context-gateway ingest`: resolves to the exit status (0 all ingested, 1 a file failed, 2 usage). */
export async function runIngest(argv: string[], io: CliIo): Promise<number> {
  const started = Date.now();
  const fail = (message: string, code: number) => {
    io.stderr.write(`context-gateway ingest: ${message}\n${code === 2 ? 'Run "context-gateway ingest --help" for usage.\n' : ''}`);
    return code;
  };
  try {
    const opts = parseOptions(argv, io);
    if (opts === 'help') {
      io.stdout.write(INGEST_USAGE);
      return 0;
    }
    const state = await openState(opts.statePath);
    const files = await findFiles(opts.inputs, { cwd: io.cwd, exts: opts.exts, exclude: new Set([opts.statePath]) });
    if (files.length === 0) throw new UsageError(`no files found in ${opts.inputs.join(', ')} (extensions: ${[...opts.exts].join(',')})`);
    const client = createClient({ url: opts.url, key: opts.key });
    const collection = await resolveCollection(client, opts.collection, opts.create);
    const progress = createProgress(io.stderr);
    const result = await ingestFiles({
      client,
      state,
      progress,
      collectionId: collection.id,
      files,
      concurrency: opts.concurrency,
      wait: opts.wait,
      metadata: opts.metadata,
    });
    progress.done();
    io.stdout.write(summary(result, collection, Date.now() - started, opts.wait));
    return result.aborted || result.unconfirmed > 0 || result.outcomes.some((o) => o.kind === 'failed') ? 1 : 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError || err instanceof StateError) return fail(err.message, 2);
    if (err instanceof CallError) return fail(err.message, 1);
    throw err;
  }
}
