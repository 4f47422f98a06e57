import type { NextFunction, Request, Response } from 'express';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Logger } from '../logger.js';

/** An error whose message is safe and useful to show to the API client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

function isBodyParserError(error: unknown): error is { type: string; status: number; limit?: number } {
  return typeof error === 'object' && error !== null && 'type' in error && 'status' in error;
}

/** zlib / brotli failures while inflating a body: body-parser marks them 400 but gives them no type. */
function isMalformedEncoding(error: unknown): error is Error {
  const { status, code } = (error ?? {}) as { status?: unknown; code?: unknown };
  return error instanceof Error && status === 400 && typeof code === 'string' && /^(Z_|ERR__ERROR)/.test(code);
}

/** Last middleware: JSON errors, never a stack trace over HTTP. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (error instanceof HttpError) {
      res.status(error.status).set(error.headers).json({ error: error.message, ...(error.field && { field: error.field }) });
      return;
    }
    if (isBodyParserError(error)) {
      if (error.type === 'entity.too.large') {
        res.status(413).json({ error: `request body is larger than the limit of ${error.limit} bytes` });
      } else if (error.type === 'entity.parse.failed') {
        res.status(400).json({ error: 'request body is not valid JSON' });
      } else {
        res.status(error.status >= 400 && error.status < 500 ? error.status : 400).json({ error: `request body could not be read (${error.type})` });
      }
      return;
    }
    if (isMalformedEncoding(error)) {
      res.status(400).json({ error: `request body could not be decoded with its Content-Encoding (${req.header('content-encoding') ?? 'none'}): ${error.message}` });
      return;
    }
    if (isDatabaseUnavailable(error)) {
      logger.warn({ err: error, path: req.path }, 'database unavailable');
      res.status(503).set('Retry-After', '2').json({ error: 'database is unavailable; retry shortly' });
      return;
    }
    logger.error({ err: error, path: req.path }, 'unhandled error');
    res.status(500).json({ error: 'internal error; see the server log' });
  };
}
