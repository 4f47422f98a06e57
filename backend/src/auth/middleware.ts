import type { NextFunction, Request, Response } from 'express';
import type { Pool } from '../db/pool.js';
import { authenticate, type Principal } from './keys.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** The authenticated principal of a request behind `requireApiKey`. */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error('route is not behind requireApiKey');
  return req.principal;
}

/**
 * `Authorization: Bearer <key>` on every /api/v1 route. Keys are checked on
 * every request (no cache) so a revoked key stops working at once.
 */
export function requireApiKey(pool: Pool) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer realm="metrics-hub"')
        .json({ error: 'missing API key: send "Authorization: Bearer <key>" (create one with: npx metrics-hub keys create --org <name>)' });
      return;
    }
    try {
      const principal = await authenticate(pool, match[1]!);
      if (!principal) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics-hub", error="invalid_token"').json({ error: 'API key is unknown or revoked' });
        return;
      }
      req.principal = principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}
