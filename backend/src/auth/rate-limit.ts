import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from '../cache/redis.js';
import type { Logger } from '../logger.js';
import { hashKey } from './keys.js';
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

const EARLY = 'rateLimitEarly';

interface EarlyCharge {
  keyHash: string;
  keyId?: string;
  charged?: Promise<RateLimiterRes>;
}

export interface RateLimitHandlers {
  /**
   * Mounted before `requireApiKey`: a key this process has seen before is
   * charged at once, beside its check in PostgreSQL rather than after it
   * (one round trip less per request; keys are still checked every time).
   * A request then refused (revoked key, wrong scope) has spent one request
   * of its key's budget.
   */
  early: RequestHandler;
  /** Mounted after the key and its scope are checked: the budget's verdict (a first request is charged here). */
  charge: RequestHandler;
}

/**
 * Per-API-key request budget for /api/v1. `perMinute` 0 turns it off. Over
 * budget: 429 with `Retry-After` (seconds).
 */
export function rateLimitPerKey(perMinute: number, redis: Redis | undefined, logger: Logger): RateLimitHandlers {
  const pass: RequestHandler = (_req, _res, next) => next();
  if (perMinute === 0) return { early: pass, charge: pass };
  const limiter = createRateLimiter(perMinute, redis);
  // Key hash -> key id of keys authenticated here before (never the key itself).
  const known = new LRUCache<string, string>({ max: 10_000 });
  const early: RequestHandler = (req, res, next) => {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '')?.[1];
    if (presented) {
      const keyHash = hashKey(presented);
      const keyId = known.get(keyHash);
      const charged = keyId === undefined ? undefined : limiter.consume(keyId);
      // Settled whether or not the request gets as far as `charge` (a 401 never does).
      charged?.catch(() => undefined);
      res.locals[EARLY] = { keyHash, keyId, charged } satisfies EarlyCharge;
    }
    next();
  };
  const charge = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const { keyId } = principalOf(req);
    const started = res.locals[EARLY] as EarlyCharge | undefined;
    if (started) known.set(started.keyHash, keyId);
    try {
      setBudgetHeaders(res, perMinute, await (started?.keyId === keyId && started.charged ? started.charged : limiter.consume(keyId)));
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
  return { early, charge };
}
