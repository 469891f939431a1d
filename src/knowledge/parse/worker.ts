/**
 * The parser thread: turns one uploaded file at a time into text. It runs with a heap limit, so a
 * hostile file (a pdf that explodes, a zip bomb that slipped past the checks) ends this thread,
 * not the gateway, and the event loop that serves chat never waits on a parse.
 */
import { parentPort } from 'node:worker_threads';
import { ParseError, parseFile } from './index.js';
import type { ParseReply, ParseRequest } from './pool.js';

const port = parentPort;
if (!port) throw new Error('parse/worker.ts runs as a worker thread');

port.on('message', async (m: ParseRequest) => {
  let reply: ParseReply;
  try {
    reply = { id: m.id, ok: true, doc: await parseFile(m.path, m.filename, m.limits) };
  } catch (err) {
    const e = err as Error;
    reply = err instanceof ParseError
      ? { id: m.id, ok: false, message: e.message, status: err.status, code: err.code }
      : { id: m.id, ok: false, message: `${m.filename} could not be parsed: ${e.message}`, status: 422, code: 'unparseable_file' };
  }
  port.postMessage(reply);
});
