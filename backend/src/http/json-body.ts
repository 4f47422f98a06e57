import type { Request } from 'express';
import { HttpError } from './errors.js';

/**
 * The JSON body of a request, or a 400 that says what to send. Without
 * `content-type: application/json` express leaves the body unparsed, and the schema
 * would only say "expected object, received undefined".
 */
export function jsonBody(req: Request, example: string): unknown {
  if (req.body !== undefined) return req.body;
  const type = req.headers['content-type'];
  const got = type ? `the body was sent as ${type.split(';')[0]}` : req.headers['content-length'] === '0' || !req.readable ? 'there was no body or content-type' : 'there was no content-type';
  throw new HttpError(400, `request body must be a JSON object sent with the header content-type: application/json, e.g. ${example}; ${got}`);
}
