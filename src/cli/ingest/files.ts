import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** A file to ingest; `rel` is its path under the walked root (forward slashes), the document's external id. */
export interface FoundFile {
  path: string;
  rel: string;
  size: number;
  mtimeMs: number;
}

/** An input that names nothing, or two files that would share an external id. */
export class InputError extends Error {}

/** Folders never walked into: tooling, not documents. Dot-files and dot-folders are skipped too. */
const SKIPPED_NAMES = new Set(['node_modules']);

const MIME: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  json: 'application/json',
  csv: 'text/csv',
};

export const extensionOf = (name: string) => extname(name).slice(1).toLowerCase();

/** The content type sent with a file, from its extension; the gateway may still sniff the bytes. */
export function mimeType(name: string): string {
  return MIME[extensionOf(name)] ?? 'application/octet-stream';
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
const posix = (p: string) => p.split(sep).join('/');

/**
 * The files of the inputs: folders walked recursively (only the given extensions; dot-files,
 * dot-folders and node_modules skipped; a symlink followed only when it stays inside the root), files
 * named directly taken as they are. Paths in `exclude` (the state file) are left out.
 */
export async function findFiles(inputs: string[], opts: { cwd: string; exts: Set<string>; exclude: Set<string> }): Promise<FoundFile[]> {
  const out: FoundFile[] = [];
  for (const input of inputs) {
    const abs = resolve(opts.cwd, input);
    const st = await stat(abs).catch(() => null);
    if (!st) throw new InputError(`no such file or folder: ${input}`);
    if (st.isDirectory()) {
      const root = await realpath(abs);
      await walk(root, root, '', out, { exts: opts.exts, exclude: opts.exclude, visited: new Set([root]) });
    } else if (st.isFile()) {
      if (opts.exclude.has(abs)) continue;
      const rel = relative(opts.cwd, abs);
      // A file outside the working directory is known by its name alone.
      out.push({ path: abs, rel: rel.startsWith('..') || isAbsolute(rel) ? basename(abs) : posix(rel), size: st.size, mtimeMs: st.mtimeMs });
    } else {
      throw new InputError(`not a file or folder: ${input}`);
    }
  }
  // The same file named twice is taken once; two files under one external id would overwrite each other.
  const seen = new Map<string, string>();
  const unique: FoundFile[] = [];
  for (const f of out) {
    const other = seen.get(f.rel);
    if (other === f.path) continue;
    if (other !== undefined) throw new InputError(`${other} and ${f.path} would both be uploaded as "${f.rel}"; ingest them separately`);
    seen.set(f.rel, f.path);
    unique.push(f);
  }
  return unique;
}

async function walk(root: string, dir: string, relDir: string, out: FoundFile[], ctx: { exts: Set<string>; exclude: Set<string>; visited: Set<string> }) {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.') || SKIPPED_NAMES.has(e.name)) continue;
    const full = join(dir, e.name);
    const rel = relDir ? `${relDir}/${e.name}` : e.name;
    let target = full;
    if (e.isSymbolicLink()) {
      const real = await realpath(full).catch(() => null);
      if (!real || !inside(root, real)) continue;
      target = real;
    } else if (!e.isDirectory() && !e.isFile()) {
      continue;
    }
    const st = await stat(target).catch(() => null);
    if (!st) continue;
    if (st.isDirectory()) {
      // A symlink back to an ancestor would loop forever; each real folder is walked once.
      const real = e.isSymbolicLink() ? target : await realpath(full);
      if (ctx.visited.has(real)) continue;
      ctx.visited.add(real);
      await walk(root, full, rel, out, ctx);
    } else if (st.isFile() && ctx.exts.has(extensionOf(e.name)) && !ctx.exclude.has(full) && !ctx.exclude.has(target)) {
      out.push({ path: full, rel, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
}
