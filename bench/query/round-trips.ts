import pg from 'pg';
import type { Redis } from '../../backend/src/cache/redis.js';

/**
 * Round trips per dashboard load: Redis commands (from the server's
 * `INFO commandstats`, so every client of this process counts, and nothing
 * else should use the benchmark's Redis database meanwhile) and SQL statements
 * sent by node-pg. Unlike wall time and CPU they do not move with the load of
 * the machine, so a change to the query path shows in them run to run.
 */
export interface RoundTrips {
  stop(): Promise<{ redis: number; sql: number }>;
}

async function redisCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (match[1] !== 'info') calls += Number(match[2]);
  return calls;
}

export async function countRoundTrips(redis: Redis): Promise<RoundTrips> {
  const before = await redisCalls(redis);
  const original = pg.Client.prototype.query;
  let sql = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    sql += 1;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return {
    stop: async () => {
      pg.Client.prototype.query = original;
      return { redis: (await redisCalls(redis)) - before, sql };
    },
  };
}
