import { basename } from 'node:path';
import type { GatewayClient, Json } from '../client.js';
import type { Progress, ProgressCounts } from '../progress.js';
import { type FoundFile, mimeType, sha256File } from './files.js';
import type { FileRecord, IngestState } from './state.js';

export interface FileOutcome {
  file: FoundFile;
  /** `uploaded`: a new document (ingested, when waited for); `unchanged`: already in the collection. */
  kind: 'uploaded' | 'unchanged' | 'failed';
  /** The upload replaced the document of an earlier version of the file. */
  replaced: boolean;
  reason?: string;
}

export interface RunResult {
  /** One per file attempted, in the order of `files`; files after an abort have none. */
  outcomes: FileOutcome[];
  chunks: number;
  bytesUploaded: number;
  /** Why the run stopped early (the key or the collection was refused), or null. */
  aborted: string | null;
  /** Documents whose ingestion was not seen to finish (the gateway stopped answering the polls). */
  unconfirmed: number;
}

/** Statuses of a document still on its way to `ready`. */
const IN_PROGRESS = new Set(['queued', 'parsing', 'embedding']);
/** Answers that concern the key or the collection, not the file: every later upload would get them too. */
const FATAL_STATUSES = new Set([401, 403, 404]);
/** Ingestion runs server-side after the 202; twice a second is quick to notice and cheap. */
const POLL_INTERVAL_MS = 500;
/** Documents polled per tick; the rest wait their turn (round robin), so one tick stays small. */
const POLL_BATCH = 16;
/** Consecutive ticks with every poll failing (~10 s) before giving up on waiting. */
const MAX_POLL_FAILURES = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const reasonOf = (r: { status: number; message: string; code: string | null }) =>
  r.status > 0 ? `${r.message} [${[r.status, r.code].filter(Boolean).join(' ')}]` : r.message;

export interface RunDeps {
  client: GatewayClient;
  state: IngestState;
  progress: Progress;
  collectionId: string;
  files: FoundFile[];
  concurrency: number;
  /** Poll uploaded documents until they are ready or failed. */
  wait: boolean;
  /** JSON object text sent as every document's metadata. */
  metadata: string | undefined;
}

/** Uploads what changed, `concurrency` files at a time, while a poller follows their ingestion. */
export async function ingestFiles(deps: RunDeps): Promise<RunResult> {
  const { client, state, progress, collectionId, files } = deps;
  const counts: ProgressCounts = {
    filesDone: 0,
    filesTotal: files.length,
    bytesDone: 0,
    bytesTotal: files.reduce((n, f) => n + f.size, 0),
    bytesSent: 0,
    chunks: 0,
    failed: 0,
    ingesting: 0,
  };
  const outcomes: Array<FileOutcome | undefined> = new Array(files.length);
  /** document id → the file it came from; `count` says whether its chunks are this run's. */
  const pending = new Map<string, { index: number; record: FileRecord; count: boolean }>();
  let aborted: string | null = null;
  let bytesUploaded = 0;
  let stateWarned = false;
  let uploading = true;

  const tick = (force = false) => {
    counts.ingesting = pending.size;
    progress.update(counts, force);
  };
  const remember = (file: FoundFile, record: FileRecord) =>
    state.set(collectionId, file.rel, record).catch((err: Error) => {
      if (!stateWarned) progress.log(`warning: cannot write the state file (the next run will upload again): ${err.message}`);
      stateWarned = true;
    });
  const finish = (index: number, outcome: Omit<FileOutcome, 'file'>) => {
    const file = files[index] as FoundFile;
    outcomes[index] = { file, ...outcome };
    counts.filesDone++;
    counts.bytesDone += file.size;
    if (outcome.kind === 'failed') counts.failed++;
    tick();
  };
  /** A file whose document failed after it was counted as uploaded or unchanged. */
  const failLate = (index: number, reason: string) => {
    const o = outcomes[index] as FileOutcome;
    outcomes[index] = { ...o, kind: 'failed', replaced: false, reason };
    counts.failed++;
  };

  /** Whether a recorded document still stands: ready, or still being ingested (asked, since it may have failed since). */
  async function stillStands(prev: FileRecord): Promise<{ doc: Json } | boolean> {
    if (prev.status === 'ready') return true;
    if (!IN_PROGRESS.has(prev.status) || !prev.document_id) return false;
    try {
      const doc = await client.json('GET', `/v1/documents/${encodeURIComponent(prev.document_id)}`);
      return doc.status === 'failed' ? false : { doc };
    } catch {
      return false; // gone, or unknown: uploading again is harmless, the gateway deduplicates
    }
  }

  async function one(index: number): Promise<void> {
    const file = files[index] as FoundFile;
    const prev = state.get(collectionId, file.rel);
    let sha256: string;
    try {
      // Size and mtime unchanged: trust the recorded hash rather than read every file on every run.
      sha256 = prev && prev.size === file.size && prev.mtimeMs === file.mtimeMs ? prev.sha256 : await sha256File(file.path);
    } catch (err) {
      return finish(index, { kind: 'failed', replaced: false, reason: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
    if (prev && prev.sha256 === sha256 && prev.document_id) {
      const stands = await stillStands(prev);
      if (stands) {
        const record = typeof stands === 'object' ? { ...prev, size: file.size, mtimeMs: file.mtimeMs, status: stands.doc.status } : { ...prev, size: file.size, mtimeMs: file.mtimeMs };
        if (record.status !== prev.status || record.mtimeMs !== prev.mtimeMs) await remember(file, record);
        finish(index, { kind: 'unchanged', replaced: false });
        if (deps.wait && record.status !== 'ready') pending.set(record.document_id as string, { index, record, count: false });
        return;
      }
    }

    const fields: Record<string, string> = { external_id: file.rel, title: file.rel };
    if (deps.metadata !== undefined) fields.metadata = deps.metadata;
    const res = await client.upload(`/v1/collections/${encodeURIComponent(collectionId)}/documents`, { path: file.path, name: basename(file.path), type: mimeType(file.path) }, fields);
    counts.bytesSent += file.size;
    const base = { size: file.size, mtimeMs: file.mtimeMs, sha256 };
    if (!res.ok) {
      if (FATAL_STATUSES.has(res.status)) aborted ??= reasonOf(res);
      await remember(file, { ...base, document_id: null, status: 'failed', error: res.message });
      return finish(index, { kind: 'failed', replaced: false, reason: reasonOf(res) });
    }
    const doc: Json = res.body?.data?.[0];
    if (!doc || typeof doc.id !== 'string') {
      const refused = res.body?.errors?.[0];
      const reason = refused?.error?.message ?? 'the gateway accepted the request but returned no document';
      await remember(file, { ...base, document_id: null, status: 'failed', error: reason });
      return finish(index, { kind: 'failed', replaced: false, reason: refused ? reasonOf({ status: refused.status ?? 0, message: reason, code: refused.error?.code ?? null }) : reason });
    }
    const record: FileRecord = { ...base, document_id: doc.id, status: String(doc.status) };
    await remember(file, record);
    if (doc.status === 'failed') return finish(index, { kind: 'failed', replaced: false, reason: `ingestion failed: ${doc.error ?? 'no reason given'}` });
    const created = doc.created !== false;
    if (created) bytesUploaded += file.size;
    finish(index, { kind: created ? 'uploaded' : 'unchanged', replaced: created && typeof doc.replaces === 'string' });
    if (doc.status === 'ready') {
      if (created) counts.chunks += Number(doc.chunk_count) || 0;
    } else if (deps.wait) {
      pending.set(doc.id, { index, record, count: created });
    }
  }

  let next = 0;
  async function worker(): Promise<void> {
    while (aborted === null) {
      const index = next++;
      if (index >= files.length) return;
      await one(index).catch((err: Error) => {
        if (!outcomes[index]) finish(index, { kind: 'failed', replaced: false, reason: err.message });
      });
    }
  }

  let unconfirmed = 0;
  async function poll(): Promise<void> {
    let failures = 0;
    while ((uploading || pending.size > 0) && aborted === null) {
      await sleep(POLL_INTERVAL_MS);
      if (pending.size === 0) {
        tick();
        continue;
      }
      const batch = [...pending.keys()].slice(0, POLL_BATCH);
      const answers = await Promise.all(
        batch.map((id) =>
          client.json('GET', `/v1/documents/${encodeURIComponent(id)}`, { retry: false }).then(
            (doc: Json) => ({ id, doc, status: 200 }),
            (err: { status?: number }) => ({ id, doc: null, status: err.status ?? 0 }),
          ),
        ),
      );
      let answered = false;
      for (const a of answers) {
        const p = pending.get(a.id);
        if (!p) continue;
        pending.delete(a.id);
        const file = files[p.index] as FoundFile;
        if (a.status === 404) {
          answered = true;
          await remember(file, { ...p.record, status: 'failed', error: 'deleted' });
          failLate(p.index, 'the document was deleted before its ingestion finished');
        } else if (!a.doc) {
          pending.set(a.id, p); // to the back of the queue; asked again later
        } else if (a.doc.status === 'ready') {
          answered = true;
          if (p.count) counts.chunks += Number(a.doc.chunk_count) || 0;
          await remember(file, { ...p.record, status: 'ready' });
        } else if (a.doc.status === 'failed') {
          answered = true;
          await remember(file, { ...p.record, status: 'failed', error: a.doc.error ?? undefined });
          failLate(p.index, `ingestion failed: ${a.doc.error ?? 'no reason given'}`);
        } else {
          answered = true;
          pending.set(a.id, p);
        }
      }
      failures = answered ? 0 : failures + 1;
      if (failures >= MAX_POLL_FAILURES) {
        progress.log(`warning: the gateway stopped answering; ${pending.size} document(s) not seen to finish (the next run checks them)`);
        break;
      }
      tick();
    }
    unconfirmed = pending.size;
  }

  tick(true);
  const poller = deps.wait ? poll() : Promise.resolve();
  await Promise.all(Array.from({ length: Math.max(1, deps.concurrency) }, worker));
  uploading = false;
  await poller;
  if (!deps.wait) unconfirmed = 0;
  tick(true);
  return { outcomes: outcomes.filter((o): o is FileOutcome => o !== undefined), chunks: counts.chunks, bytesUploaded, aborted, unconfirmed };
}
