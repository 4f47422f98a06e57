import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `/metrics` shows platform-wide counts (every organization's traffic, every
 * source's errors), so it must not be public. With METRICS_TOKEN set it needs
 * `Authorization: Bearer <token>` (Prometheus: `authorization: { credentials }`);
 * without it, keep the port off the public network.
 */
export function requireMetricsToken(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!expected) return next();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '');
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    if (match && timingSafeEqual(digest(match[1]!), expected)) return next();
    res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics-hub-metrics"').json({ error: 'GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"' });
  };
}
