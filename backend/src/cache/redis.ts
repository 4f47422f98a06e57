import { Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis.js';
import type { Logger } from '../logger.js';

export type { Redis };

/**
 * ioredis options for a target: a URL, or a master found through Sentinel.
 * With Sentinel, ioredis asks the sentinels for the master at every
 * (re)connect and checks that the server it reached is a master, so after a
 * failover it lands on the promoted replica by itself. A master that was
 * demoted while the connection stayed up answers writes with READONLY: that
 * reconnects too. (ioredis' `failoverDetector` is not used: a `+switch-master`
 * arriving while it connects ends the client for good, ioredis 5.11.)
 */
export function redisConnection(target: RedisTarget, options: RedisOptions = {}): RedisOptions & { url?: string } {
  if (target.kind === 'url') return { url: target.url, ...options };
  return {
    sentinels: target.sentinels,
    name: target.name,
    ...(target.password !== undefined && { password: target.password }),
    ...(target.sentinelPassword !== undefined && { sentinelPassword: target.sentinelPassword }),
    // Keep asking the sentinels while they elect a new master (the default gives up after 10 tries).
    sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
    ...options,
  };
}

/** A client for the target, with the given options on top (BullMQ and subscribers need their own). */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  const { url, ...rest } = redisConnection(target, options);
  return url ? new Redis(url, rest) : new Redis(rest);
}

/**
 * One shared Redis connection, auto-pipelined. Commands fail fast while Redis is down (no
 * offline queue) so callers can fall back to in-process state instead of
 * hanging; ioredis keeps reconnecting in the background (through the
 * sentinels, when Redis runs under Sentinel).
 */
export function createRedis(target: RedisTarget, logger: Logger): Redis {
  const redis = connectRedis(target, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    // Commands issued in one turn of the event loop (a request's cache lookups, concurrent requests' rate limits)
    // leave in one write: every write wakes Redis, and on a busy machine each wake-up is a wait (issue 23).
    enableAutoPipelining: true,
  });
  let lastState = '';
  const report = (state: string, extra?: object) => {
    if (state === lastState) return;
    lastState = state;
    logger.info({ redis: state, ...extra }, `redis ${state}`);
  };
  redis.on('ready', () => report('ready'));
  redis.on('error', (error: Error) => report('unavailable', { reason: error.message }));
  return redis;
}
