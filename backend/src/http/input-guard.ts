import { isUtf8 } from 'node:buffer';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './errors.js';

/**
 * Input PostgreSQL would refuse is refused here first, with a 400 naming the
 * field: a failure caused by a request's own input must stay that request's,
 * never become a source's error that every organization then sees.
 */

/** NUL (text and jsonb cannot hold it) or a UTF-16 surrogate not part of a pair (jsonb cannot hold it). */
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/u;

/** Earliest and latest instant a request may name: PostgreSQL and every derived period stay far inside them. */
export const EARLIEST_INSTANT_MS = Date.UTC(1900, 0, 1);
export const LATEST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function isRepresentableInstant(date: Date): boolean {
  const ms = date.getTime();
  return ms >= EARLIEST_INSTANT_MS && ms <= LATEST_INSTANT_MS;
}
export const REPRESENTABLE_RANGE = 'between 1900-01-01 and 9999-12-31';

const MAX_DEPTH = 32;

/** Path of the first key or string value that cannot be stored, or undefined. */
export function firstUnstorable(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path || 'request' : undefined;
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (UNSTORABLE.test(key)) return at;
    const found = firstUnstorable(item, at, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** express.json `verify`: a body that is not UTF-8 is refused rather than decoded with replacement characters. */
export function requireUtf8Body(_req: Request, _res: Response, buffer: Buffer): void {
  if (!isUtf8(buffer)) throw new HttpError(400, 'request body is not valid UTF-8; send JSON encoded as UTF-8');
}

/**
 * Refuses NUL characters and unpaired surrogates anywhere in the query
 * string or JSON body. `except` lists routes that judge such strings
 * themselves (ingestion rejects the one event carrying them, by index).
 */
export function rejectUnstorableStrings(except: string[] = []) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (except.includes(req.path)) return next();
    const field = firstUnstorable(req.query) ?? firstUnstorable(req.body);
    if (field) return next(new HttpError(400, `${field}: contains a NUL character or an unpaired surrogate, which cannot be stored or compared`, field));
    next();
  };
}
