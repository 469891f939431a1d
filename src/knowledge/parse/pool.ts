import type { Worker } from 'node:worker_threads';
import { startScriptWorker } from '../../jobs/threads.js';
import { ParseError, type ParsedFile, type ParseLimits } from './types.js';

export interface ParseRequest {
  id: number;
  path: string;
  filename: string;
  limits: ParseLimits;
}

export type ParseReply =
  | { id: number; ok: true; doc: ParsedFile }
  | { id: number; ok: false; message: string; status: 413 | 415 | 422; code: string };

interface Job extends ParseRequest {
  resolve: (doc: ParsedFile) => void;
  reject: (err: Error) => void;
}

export interface ParserOptions {
  /** Heap of the parser thread, in MB; a file that needs more is refused (422), the thread restarts. */
  heapMb: number;
  /** Longest a single file may take to parse. */
  timeoutMs?: number;
  /** An idle thread is stopped after this long, giving back the memory a parse left behind (pdfjs keeps ~200 MB). */
  idleMs?: number;
}

/**
 * Parses uploaded files one at a time on a worker thread (started on first use). A file that
 * kills the thread — out of memory, or over the time limit — is refused with a 422 that says so,
 * and the next file gets a fresh thread.
 */
export function createParser(opts: ParserOptions) {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const idleMs = opts.idleMs ?? 30_000;
  let idle: NodeJS.Timeout | undefined;
  const queue: Job[] = [];
  let worker: Worker | undefined;
  let current: Job | undefined;
  let timer: NodeJS.Timeout | undefined;
  let nextId = 1;
  let closed = false;

  function fail(job: Job, why: string) {
    job.reject(new ParseError(`${job.filename} could not be parsed: ${why}`, 422, 'unparseable_file'));
  }

  function spawn(): Worker {
    const w = startScriptWorker(import.meta.url, 'worker', { resourceLimits: { maxOldGenerationSizeMb: opts.heapMb } });
    w.unref();
    w.on('message', (reply: ParseReply) => {
      const job = current;
      if (!job || job.id !== reply.id) return;
      finish();
      if (reply.ok) job.resolve(reply.doc);
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
    const { resolve: _r, reject: _j, ...request } = job;
    worker.postMessage(request satisfies ParseRequest);
  }

  return {
    parse(path: string, filename: string, limits: ParseLimits): Promise<ParsedFile> {
      if (closed) return Promise.reject(new Error('the parser is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, path, filename, limits, resolve, reject });
        pump();
      });
    },
    async close(): Promise<void> {
      closed = true;
      if (idle) clearTimeout(idle);
      for (const job of queue.splice(0)) job.reject(new Error('the parser is closed'));
      const w = worker;
      worker = undefined;
      if (current) fail(current, 'the gateway is shutting down');
      finish();
      await w?.terminate();
    },
  };
}

export type Parser = ReturnType<typeof createParser>;
