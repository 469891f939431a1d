import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import type { Logger } from 'pino';
import type { Principal } from '../tenancy/auth.js';

/** Per-request state carried on `res.locals`: id, caller, and what the access log reports. */
export interface RequestContext {
  id: string;
  startedAt: number;
  principal?: Principal;
  /** Fields added to the access log line (model, target, session…). */
  logFields: Record<string, unknown>;
  log: Logger;
}

const CLIENT_ID = /^[\w.:-]{1,128}$/;

export function createContext(req: IncomingMessage, base: Logger): RequestContext {
  const given = req.headers['x-request-id'];
  return new Context(typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID(), base);
}

// A class, not an object literal with a `log` getter: a getter in a literal is a new hidden class per
// request, kept in old space with what its closure holds until the next full collection.
class Context implements RequestContext {
  readonly startedAt = performance.now();
  principal: Principal | undefined = undefined;
  readonly logFields: Record<string, unknown> = {};
  #base: Logger;
  #child: Logger | undefined = undefined;

  constructor(
    readonly id: string,
    base: Logger,
  ) {
    this.#base = base;
  }

  /** Built only when a route logs something beyond the access line. */
  get log(): Logger {
    this.#child ??= this.#base.child({ reqId: this.id });
    return this.#child;
  }
}

export function ctx(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}

/** One access-log line per request: ids, status, timing and what routes added — never bodies. */
export function accessLog(log: Logger, method: string, url: string, status: number, c: RequestContext): void {
  if (!log.isLevelEnabled('info')) return;
  // Path only: query strings may carry user ids.
  const q = url.indexOf('?');
  log.info({ reqId: c.id, method, path: q === -1 ? url : url.slice(0, q), status, ms: Math.round((performance.now() - c.startedAt) * 10) / 10, ...c.logFields }, 'request');
}
