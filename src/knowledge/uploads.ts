import type { ReceivedFile } from '../http/multipart.js';
import type { NewDocument } from './documents.js';
import { ParseError, type ParseLimits } from './parse/types.js';
import type { Parser } from './parse/pool.js';

/** Why one file of an upload was refused; the other files still go in. */
export interface FileError {
  file: string;
  status: 413 | 415 | 422;
  error: { message: string; type: 'invalid_request_error'; param: 'file'; code: string };
}

export interface UploadLimits extends ParseLimits {
  maxFileBytes: number;
}

const refuse = (file: string, status: FileError['status'], code: string, message: string): FileError => ({
  file,
  status,
  error: { message, type: 'invalid_request_error', param: 'file', code },
});

/**
 * Turns the files of an upload into documents to queue, file by file: a file over the size
 * limit, of an unknown type, corrupt, empty or over the page/character limits is refused with its
 * reason, and the others still become documents. Parsing happens on the parser thread.
 */
export async function documentsFromFiles(
  files: readonly ReceivedFile[],
  parser: Parser,
  limits: UploadLimits,
  shared: { title?: string; external_id: string | null; metadata: Record<string, unknown> },
): Promise<{ documents: Array<NewDocument & { index: number }>; errors: Array<FileError & { index: number }> }> {
  const documents: Array<NewDocument & { index: number }> = [];
  const errors: Array<FileError & { index: number }> = [];
  for (const [index, f] of files.entries()) {
    if (f.truncated) {
      errors.push({ index, ...refuse(f.filename, 413, 'file_too_large', `${f.filename} is larger than the ${limits.maxFileBytes}-byte limit per file (knowledge.upload.maxFileBytes).`) });
      continue;
    }
    if (f.bytes === 0) {
      errors.push({ index, ...refuse(f.filename, 422, 'empty_file', `${f.filename} is empty (0 bytes).`) });
      continue;
    }
    try {
      const parsed = await parser.parse(f.path, f.filename, limits);
      documents.push({
        index,
        utf8: Buffer.from(parsed.utf8.buffer, parsed.utf8.byteOffset, parsed.utf8.byteLength),
        chars: parsed.chars,
        title: shared.title ?? f.filename,
        format: parsed.format,
        external_id: shared.external_id,
        metadata: shared.metadata,
        file: { name: f.filename, bytes: f.bytes, sha256: f.sha256, ...(parsed.pages ? { pages: parsed.pages } : {}) },
      });
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      errors.push({ index, ...refuse(f.filename, err.status, err.code, err.message) });
    }
  }
  return { documents, errors };
}
