import type { NextFunction, Request, Response } from 'express';
import type { Pool } from '../db/pool.js';
import type { KeyUsage } from './key-usage.js';
import { authenticate, type Principal } from './keys.js';
import { scopeAllows, scopeForRoute } from './scopes.js';

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
export function requireApiKey(pool: Pool, usage?: KeyUsage) {
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
      usage?.touch(principal.keyId);
      next();
    } catch (error) {
      next(error);
    }
  };
}

/**
 * Refuses a request whose key's scope does not cover the route, before its
 * body is read or anything is written: 403 with the scope the key has and the
 * one the route needs.
 */
export function requireRouteScope() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const { scope } = principalOf(req);
    const needs = scopeForRoute(req.method, req.path);
    if (scopeAllows(scope, needs)) {
      next();
      return;
    }
    res.status(403).json({
      error: `this API key has scope '${scope}', and ${req.method} /api/v1${req.path} needs scope '${needs}'${needs === 'admin' ? '' : " (or 'admin')"}; use a key with that scope (create one with: npx metrics-hub keys create --org <name> --scope ${needs})`,
      scope,
      requiredScope: needs,
    });
  };
}
