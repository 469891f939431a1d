import type { Worker } from 'node:worker_threads';
import { startScriptWorker } from '../../jobs/threads.js';
import type { ChunkSettings, PreparedChunk } from '../chunk-vectors.js';
import { ParseError, type ParsedFile, type ParseLimits } from './types.js';

/** Work for the thread: parse an uploaded file, or cut a stored document's text into chunks. */
type Work = { kind: 'parse'; path: string; filename: string; limits: ParseLimits } | { kind: 'chunk'; name: string; text: string; settings: ChunkSettings };

export type ParseRequest = Work & { id: number };

export type ParseReply =
  | { id: number; ok: true; doc: ParsedFile }
  | { id: number; ok: true; chunks: PreparedChunk[] }
  | { id: number; ok: false; message: string; status: 413 | 415 | 422; code: string };

interface Job {
  id: number;
  work: Work;
  resolve: (reply: Extract<ParseReply, { ok: true }>) => void;
  reject: (err: Error) => void;
}

/**
 * The thread's young generation, in MB (V8's default here: 48). What a parse allocates is mostly
 * large strings and arrays, which skip the young generation anyway; a small one keeps the idle
 * thread small.
 */
const YOUNG_GENERATION_MB = 8;

export interface ParserOptions {
  /** Heap of the parser thread, in MB; a file that needs more is refused (422), the thread restarts. */
  heapMb: number;
  /** Longest a single file may take to parse. */
  timeoutMs?: number;
  /**
   * An idle thread is stopped after this long (default 5 s), giving back the memory a parse left
   * behind (pdfjs keeps ~200 MB). A cold thread costs ~0.2 s on the next file; a burst of uploads
   * keeps it warm.
   */
  idleMs?: number;
}

/**
 * Parses uploaded files, and chunks stored documents for the ingestor, one at a time on a worker
 * thread (started on first use). A file that kills the thread — out of memory, or over the time
 * limit — is refused with a 422 that says so, and the next file gets a fresh thread.
 */
export function createParser(opts: ParserOptions) {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const idleMs = opts.idleMs ?? 5_000;
  let idle: NodeJS.Timeout | undefined;
  const queue: Job[] = [];
  let worker: Worker | undefined;
  let current: Job | undefined;
  let timer: NodeJS.Timeout | undefined;
  let nextId = 1;
  let closed = false;

  function fail(job: Job, why: string) {
    const w = job.work;
    job.reject(new ParseError(w.kind === 'parse' ? `${w.filename} could not be parsed: ${why}` : `${w.name} could not be chunked: ${why}`, 422, 'unparseable_file'));
  }

  function spawn(): Worker {
    const w = startScriptWorker(import.meta.url, 'worker', { resourceLimits: { maxOldGenerationSizeMb: opts.heapMb, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    w.unref();
    w.on('message', (reply: ParseReply) => {
      const job = current;
      if (!job || job.id !== reply.id) return;
      finish();
      if (reply.ok) job.resolve(reply);
      else job.reject(new ParseError(reply.message, reply.status, reply.code));
      pump();
    });
    const died = (why: string) => {
      if (worker !== w) return;
      worker = undefined;
      const job = current;
      finish();
      if (job) fail(job, why);
      pump();
    };
    w.on('error', (err: Error & { code?: string }) =>
      died(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it needs more than the parser's ${opts.heapMb} MB of memory` : err.message),
    );
    w.on('exit', (code) => died(`the parser stopped (exit ${code})`));
    return w;
  }

  function finish() {
    current = undefined;
    if (timer) clearTimeout(timer);
    timer = undefined;
    worker?.unref();
  }

  function pump() {
    if (current || closed) return;
    const job = queue.shift();
    if (!job) {
      const w = worker;
      if (w && !idle) {
        idle = setTimeout(() => {
          idle = undefined;
          if (worker !== w || current) return;
          worker = undefined;
          void w.terminate();
        }, idleMs);
        idle.unref();
      }
      return;
    }
    if (idle) clearTimeout(idle);
    idle = undefined;
    worker ??= spawn();
    worker.ref();
    current = job;
    timer = setTimeout(() => {
      const w = worker;
      worker = undefined;
      finish();
      fail(job, `it took longer than ${timeoutMs / 1000} s`);
      void w?.terminate();
      pump();
    }, timeoutMs);
    worker.postMessage({ id: job.id, ...job.work } satisfies ParseRequest);
  }

  function submit(work: Work): Promise<Extract<ParseReply, { ok: true }>> {
    if (closed) return Promise.reject(new Error('the parser is closed'));
    return new Promise((resolve, reject) => {
      queue.push({ id: nextId++, work, resolve, reject });
      pump();
    });
  }

  return {
    async parse(path: string, filename: string, limits: ParseLimits): Promise<ParsedFile> {
      const reply = await submit({ kind: 'parse', path, filename, limits });
      if (!('doc' in reply)) throw new Error('the parser thread answered a parse with chunks');
      return reply.doc;
    },
    /**
     * A stored document's chunks and passages (chunkDocument), cut on the thread. A document that
     * the thread cannot chunk in its time or heap is refused with a ParseError naming `name`.
     */
    async chunk(text: string, settings: ChunkSettings, name: string): Promise<PreparedChunk[]> {
      const reply = await submit({ kind: 'chunk', name, text, settings });
      if (!('chunks' in reply)) throw new Error('the parser thread answered a chunking with a parsed file');
      return reply.chunks;
    },
    async close(): Promise<void> {
      closed = true;
      if (idle) clearTimeout(idle);
      for (const job of queue.splice(0)) job.reject(new Error('the parser is closed'));
      const w = worker;
      worker = undefined;
      // Not the file's fault: a plain error, which the ingestor retries after a restart.
      current?.reject(new Error('the parser is closed: the gateway is shutting down'));
      finish();
      await w?.terminate();
    },
  };
}

export type Parser = ReturnType<typeof createParser>;
