import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
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

export function createContext(req: Request, base: Logger): RequestContext {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
  let child: Logger | undefined;
  return {
    id,
    startedAt: performance.now(),
    logFields: {},
    // Child loggers are built only when a route logs something beyond the access line.
    get log() {
      child ??= base.child({ reqId: id });
      return child;
    },
  };
}

export function ctx(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}
