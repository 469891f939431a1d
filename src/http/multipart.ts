import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { clientClosed, GatewayError } from '../errors.js';

export interface ReceivedFile {
  /** The name the client gave, without any directory part. */
  filename: string;
  /** Where the bytes were written; removed by `Upload.cleanup`. */
  path: string;
  bytes: number;
  sha256: string;
  /** Over the size limit: only the first `limit` bytes were kept, the rest was discarded. */
  truncated: boolean;
}

export interface Upload {
  files: ReceivedFile[];
  fields: Record<string, string>;
  cleanup(): Promise<void>;
}

export interface MultipartLimits {
  maxFileBytes: number;
  maxFiles: number;
  tmpDir?: string;
}

const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;

const tooMany = (limit: number) =>
  new GatewayError(`The request sent more than ${limit} files; the limit is ${limit} per request (knowledge.upload.maxFiles). Send them in several requests.`, {
    status: 413,
    code: 'too_many_files',
    category: 'client',
  });

/**
 * Receives a multipart/form-data request: every file part is streamed to its own file in a fresh
 * temporary directory (hashed on the way, never held in memory), every other part is a text field.
 * A file over the size limit is cut there and flagged, and the rest of the request still arrives;
 * more files than the limit refuse the whole request (413), as does a field over its limit. On any
 * error the directory is removed before the error is thrown.
 */
export async function receiveMultipart(req: IncomingMessage, limits: MultipartLimits): Promise<Upload> {
  const dir = await mkdtemp(join(limits.tmpDir ?? tmpdir(), 'cg-upload-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    return { ...(await receive(req, dir, limits)), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function receive(req: IncomingMessage, dir: string, limits: MultipartLimits): Promise<Omit<Upload, 'cleanup'>> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { files: limits.maxFiles, fileSize: limits.maxFileBytes, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: limits.maxFiles + MAX_FIELDS },
        defParamCharset: 'utf8',
      });
    } catch (err) {
      reject(new GatewayError(`The multipart request cannot be read: ${(err as Error).message}.`, { status: 400, code: 'invalid_multipart', category: 'client' }));
      return;
    }
    const files: ReceivedFile[] = [];
    const fields: Record<string, string> = {};
    // Each write settles to its error (or nothing): a write cut short by a refused request is not an unhandled rejection.
    const writes: Array<Promise<Error | undefined>> = [];
    let failure: GatewayError | undefined;
    const stop = (err: GatewayError) => {
      failure ??= err;
      req.unpipe(bb);
      req.resume();
      bb.destroy();
      reject(failure);
    };

    bb.on('file', (_name, stream, info) => {
      if (failure) return void stream.resume();
      const file: ReceivedFile = {
        filename: (info.filename || `file-${files.length + 1}`).split(/[\\/]/).pop() as string,
        path: join(dir, String(files.length + 1)),
        bytes: 0,
        sha256: '',
        truncated: false,
      };
      files.push(file);
      const hash = createHash('sha256');
      stream.on('data', (b: Buffer) => {
        file.bytes += b.length;
        hash.update(b);
      });
      stream.on('limit', () => {
        file.truncated = true;
      });
      writes.push(
        pipeline(stream, createWriteStream(file.path)).then(
          () => {
            file.sha256 = hash.digest('hex');
            return undefined;
          },
          (err: Error) => err,
        ),
      );
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) stop(new GatewayError(`The form field "${name}" is longer than ${MAX_FIELD_BYTES} bytes.`, { status: 413, code: 'field_too_large', category: 'client', param: name }));
      else fields[name] = value;
    });
    bb.on('filesLimit', () => stop(tooMany(limits.maxFiles)));
    bb.on('partsLimit', () => stop(tooMany(limits.maxFiles)));
    bb.on('fieldsLimit', () => stop(new GatewayError(`The request has more than ${MAX_FIELDS} form fields.`, { status: 413, code: 'too_many_fields', category: 'client' })));
    bb.on('error', (err: Error) => stop(new GatewayError(`The multipart body is malformed: ${err.message}.`, { status: 400, code: 'invalid_multipart', category: 'client' })));
    bb.on('close', () => {
      if (failure) return;
      void Promise.all(writes).then((errors) => {
        const err = errors.find((e) => e !== undefined);
        if (err) reject(req.destroyed ? clientClosed(err) : err);
        else resolve({ files, fields });
      });
    });
    req.on('aborted', () => stop(clientClosed(new Error('the client closed the upload'))));
    req.pipe(bb);
  });
}
