import type { ErrorRequestHandler, RequestHandler } from 'express';
import { bodyErrors, clientClosed, GatewayError } from '../../errors.js';
import { ctx } from '../request-context.js';
import { sendError } from '../respond.js';

/** Body-parser failures, mapped to errors that say what to fix. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number; length?: number }): GatewayError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return bodyErrors.invalidJson();
    case 'entity.too.large':
      return bodyErrors.tooLarge(err.length, err.limit);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('The request body must be UTF-8 JSON.', { status: 415, code: 'unsupported_media_type', category: 'client' });
    case 'request.aborted':
      return clientClosed(err);
    default:
      return undefined;
  }
}

/** Express's error middleware: body-parser failures mapped, then the shared error writer. */
export const errorHandler: ErrorRequestHandler = (raw, _req, res, _next) => {
  sendError(res, fromBodyParser(raw as { type?: string }) ?? raw, ctx(res));
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new GatewayError(`No route for ${req.method} ${req.path}.`, { status: 404, code: 'route_not_found', category: 'client' }));
};
