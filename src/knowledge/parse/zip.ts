import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { ParseError, reason } from './types.js';

/**
 * Zip-bomb defence for .docx. mammoth inflates parts into memory, so before it sees the file every
 * entry is checked twice: by the sizes the zip declares (cheap, from the central directory), then by
 * inflating each entry into nothing and counting, because declared sizes can lie.
 */

/** Beyond this a compression ratio is suspicious: real XML compresses ~10:1, rarely past 100:1. */
const MAX_RATIO = 200;
/** Small entries may compress absurdly well (a run of spaces) without doing harm. */
const RATIO_FLOOR_BYTES = 10 * 1024 * 1024;
/** Entries read back in full for the caller (docProps/core.xml is a few KB). */
const MAX_KEPT_BYTES = 1024 * 1024;

export interface ZipContents {
  names: Set<string>;
  /** The bytes of the entries the caller asked to keep, when present. */
  kept: Map<string, Buffer>;
}

const bomb = (message: string) => new ParseError(message, 413, 'zip_bomb');

function openZip(path: string, filename: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, validateEntrySizes: true, autoClose: false }, (err, zip) => {
      if (err) reject(new ParseError(`${filename} is not a valid zip archive (so not a .docx): ${reason(err)}`, 422, 'unparseable_file'));
      else resolve(zip);
    });
  });
}

/** Reads the central directory: every entry's name and declared sizes, nothing inflated. */
function listEntries(zip: ZipFile, filename: string): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = [];
    zip.on('entry', (entry: Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.on('error', (err) => reject(new ParseError(`${filename} is not a valid zip archive: ${reason(err)}`, 422, 'unparseable_file')));
    zip.readEntry();
  });
}

/** Refuses on declared sizes alone: a total beyond the limit, or one entry with an absurd ratio. */
export function checkDeclared(entries: Entry[], filename: string, maxBytes: number): void {
  const total = entries.reduce((sum, e) => sum + e.uncompressedSize, 0);
  if (total > maxBytes) throw bomb(`${filename} would inflate to ${total} bytes; the limit is ${maxBytes}`);
  for (const e of entries) {
    const ratio = e.uncompressedSize / Math.max(1, e.compressedSize);
    if (ratio > MAX_RATIO && e.uncompressedSize > RATIO_FLOOR_BYTES) {
      throw bomb(
        `${filename}: ${e.fileName} is compressed ${Math.round(ratio)}:1 (${e.uncompressedSize} bytes from ${e.compressedSize}); refused as a zip bomb`,
      );
    }
  }
}

/**
 * Inflates one entry, adding its bytes to `counted.bytes` and stopping as soon as the total passes
 * the limit. Returns the bytes only when `keep` is set.
 */
function inflate(zip: ZipFile, entry: Entry, filename: string, maxBytes: number, counted: { bytes: number }, keep: boolean): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(new ParseError(`${filename} is not a readable .docx: ${entry.fileName}: ${reason(err)}`, 422, 'unparseable_file'));
      const chunks: Buffer[] = [];
      let own = 0;
      stream.on('data', (chunk: Buffer) => {
        counted.bytes += chunk.length;
        own += chunk.length;
        if (counted.bytes > maxBytes) {
          stream.destroy();
          reject(bomb(`${filename} inflates to more than ${maxBytes} bytes (the limit) by ${entry.fileName}`));
        } else if (keep && own <= MAX_KEPT_BYTES) chunks.push(chunk);
      });
      stream.on('end', () => resolve(keep ? Buffer.concat(chunks) : undefined));
      stream.on('error', (e) => {
        // yauzl's validateEntrySizes: an entry producing more than it declared is lying about its size.
        if (/too many bytes/.test(e.message))
          reject(bomb(`${filename}: ${entry.fileName} inflates to more than the ${entry.uncompressedSize} bytes it declares`));
        else reject(new ParseError(`${filename} is not a readable .docx: ${entry.fileName}: ${e.message}`, 422, 'unparseable_file'));
      });
    });
  });
}

/**
 * Checks a zip against the inflate limit and returns its entry names and the `keep` entries.
 * Throws 413 zip_bomb when it would inflate beyond `maxBytes`, 422 when it is not a readable zip.
 */
export async function inspectZip(path: string, filename: string, maxBytes: number, keep: string[] = []): Promise<ZipContents> {
  const zip = await openZip(path, filename);
  try {
    const entries = await listEntries(zip, filename);
    checkDeclared(entries, filename, maxBytes);
    const counted = { bytes: 0 };
    const kept = new Map<string, Buffer>();
    for (const entry of entries) {
      if (entry.fileName.endsWith('/')) continue;
      const bytes = await inflate(zip, entry, filename, maxBytes, counted, keep.includes(entry.fileName));
      if (bytes !== undefined) kept.set(entry.fileName, bytes);
    }
    return { names: new Set(entries.map((e) => e.fileName)), kept };
  } finally {
    zip.close();
  }
}
