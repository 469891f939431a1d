/**
 * The parser thread: turns one uploaded file at a time into text, handed over as UTF-8 bytes
 * (ParsedFile), and cuts stored documents into chunks for the ingestor. It runs with a heap limit,
 * so a hostile file (a pdf that explodes, a zip bomb that slipped past the checks) ends this thread,
 * not the gateway, and the event loop that serves chat never waits on a parse.
 */
import { parentPort } from 'node:worker_threads';
import { getTokenizer } from '../../tokens/tokenizer.js';
import { chunkDocument } from '../chunk-vectors.js';
import { ParseError, parseFile } from './index.js';
import type { ParseReply, ParseRequest } from './pool.js';

const port = parentPort;
if (!port) throw new Error('parse/worker.ts runs as a worker thread');

const encoder = new TextEncoder();

port.on('message', async (m: ParseRequest) => {
  let reply: ParseReply;
  const transfer: ArrayBuffer[] = [];
  try {
    if (m.kind === 'chunk') {
      reply = { id: m.id, ok: true, chunks: chunkDocument(m.text, getTokenizer('o200k_base'), m.settings) };
    } else {
      const { text, ...doc } = await parseFile(m.path, m.filename, m.limits);
      const utf8 = encoder.encode(text);
      transfer.push(utf8.buffer as ArrayBuffer);
      reply = { id: m.id, ok: true, doc: { ...doc, utf8, chars: text.length } };
    }
  } catch (err) {
    const e = err as Error;
    reply = err instanceof ParseError
      ? { id: m.id, ok: false, message: e.message, status: err.status, code: err.code }
      : { id: m.id, ok: false, message: `${m.kind === 'parse' ? `${m.filename} could not be parsed` : `${m.name} could not be chunked`}: ${e.message}`, status: 422, code: 'unparseable_file' };
  }
  port.postMessage(reply, transfer);
});
