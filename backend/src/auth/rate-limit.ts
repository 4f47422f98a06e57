import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from '../cache/redis.js';
import type { Logger } from '../logger.js';
import { principalOf } from './middleware.js';

const WINDOW_SECONDS = 60;

/**
 * The budget is shared by every backend process through Redis. While Redis is
 * down (or unset) each process counts on its own in memory, so a key may get
 * up to the budget per process for that time rather than being cut off.
 */
export function createRateLimiter(perMinute: number, redis: Redis | undefined): RateLimiterAbstract {
  const options = { points: perMinute, duration: WINDOW_SECONDS, keyPrefix: 'metrics:ratelimit' };
  if (!redis) return new RateLimiterMemory(options);
  return new RateLimiterRedis({
    ...options,
    storeClient: redis,
    // Go straight to the in-memory limiter while disconnected instead of waiting on a command that cannot run.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}

function setBudgetHeaders(res: Response, limit: number, state: RateLimiterRes): void {
  res.set({
    'RateLimit-Limit': String(limit),
    'RateLimit-Remaining': String(Math.max(0, state.remainingPoints)),
    'RateLimit-Reset': String(Math.ceil(state.msBeforeNext / 1000)),
  });
}

const CHARGE = 'rateLimitCharge';
export type RateLimitCharge = (points: number) => Promise<RateLimiterRes>;

/**
 * Charges more of the request's key budget after it started, e.g. a live
 * stream for every period it stays open; rejects with a RateLimiterRes once
 * over budget. Undefined when the limit is off.
 */
export function rateLimitChargeOf(res: Response): RateLimitCharge | undefined {
  return res.locals[CHARGE] as RateLimitCharge | undefined;
}

/**
 * Per-API-key request budget for /api/v1, mounted after `requireApiKey`.
 * `perMinute` 0 turns it off. Over budget: 429 with `Retry-After` (seconds).
 */
export function rateLimitPerKey(perMinute: number, redis: Redis | undefined, logger: Logger): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  const limiter = createRateLimiter(perMinute, redis);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const { keyId } = principalOf(req);
    try {
      setBudgetHeaders(res, perMinute, await limiter.consume(keyId));
      res.locals[CHARGE] = (points: number) => limiter.consume(keyId, points);
      next();
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        setBudgetHeaders(res, perMinute, rejection);
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        res
          .status(429)
          .set('Retry-After', String(retryAfter))
          .json({ error: `rate limit of ${perMinute} requests per minute for this API key exceeded; retry after ${retryAfter} s` });
        return;
      }
      // The limiter itself failed: a broken budget counter must not take the API down, so the request goes on.
      logger.warn({ err: rejection }, 'rate limiter unavailable; request not counted');
      next();
    }
  };
}
