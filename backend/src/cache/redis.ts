import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export type { Redis };

/**
 * One shared Redis connection. Commands fail fast while Redis is down (no
 * offline queue) so callers can fall back to in-process state instead of
 * hanging; ioredis keeps reconnecting in the background.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
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
