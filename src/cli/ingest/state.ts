import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What the last run knows of one file: its fingerprint and the document it became. */
export interface FileRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
  document_id: string | null;
  /** The document's last known status, or `failed` for a file the gateway refused. */
  status: string;
  error?: string;
}

interface StateFile {
  version: 1;
  /** collection id → path relative to the walked root → record. */
  collections: Record<string, Record<string, FileRecord>>;
}

/** The state file exists but is not one of ours: never overwritten (it may be anyone's JSON). */
export class StateError extends Error {}

export interface IngestState {
  get(collectionId: string, rel: string): FileRecord | undefined;
  /** Records a file and writes the state file (atomically); resolves once a write including it is done. */
  set(collectionId: string, rel: string, record: FileRecord): Promise<void>;
}

/** The resume file of `ingest`: read once, rewritten (tmp + rename) after each change, so a crash loses nothing. */
export async function openState(path: string): Promise<IngestState> {
  let state: StateFile = { version: 1, collections: {} };
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new StateError(`cannot read the state file ${path}: ${err.code ?? err.message}`);
  });
  if (text !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const p = parsed as Partial<StateFile> | undefined;
    if (p?.version !== 1 || typeof p.collections !== 'object' || p.collections === null) {
      throw new StateError(`${path} is not an ingest state file; pass another --state`);
    }
    state = p as StateFile;
  }

  // Writes are coalesced: while one is under way, later changes are written once by the next.
  let writing: Promise<void> | null = null;
  let dirty = false;
  const tmp = `${path}.${process.pid}.tmp`;
  async function writeOnce() {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, `${JSON.stringify(state, null, 1)}\n`);
    await rename(tmp, path);
  }
  function save(): Promise<void> {
    dirty = true;
    writing ??= (async () => {
      try {
        while (dirty) {
          dirty = false;
          await writeOnce();
        }
      } finally {
        writing = null;
      }
    })();
    return writing;
  }

  return {
    get: (collectionId, rel) => state.collections[collectionId]?.[rel],
    set(collectionId, rel, record) {
      state.collections[collectionId] ??= {};
      (state.collections[collectionId] as Record<string, FileRecord>)[rel] = record;
      return save();
    },
  };
}
