import { z } from 'zod';

/**
 * Where Redis is: one server (`REDIS_URL`) or a master found through Redis
 * Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`), which follows a
 * failover to the promoted replica by itself. Validated with the rest of the
 * environment (env.ts); `redisTargetOf` turns it into what the clients need.
 */
const hostPort = /^(?<host>\[[0-9a-f:.]+\]|[^\s:,]+):(?<port>\d{1,5})$/i;

export interface SentinelAddress {
  host: string;
  port: number;
}

/** `host:port,host:port`: the sentinels to ask for the current master, any one of them answering is enough. */
const sentinelList = z
  .string()
  .trim()
  .transform((value, context): SentinelAddress[] => {
    const addresses: SentinelAddress[] = [];
    for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const match = hostPort.exec(item);
      const port = Number(match?.groups?.port);
      if (!match || port < 1 || port > 65535) {
        context.addIssue({ code: 'custom', message: `'${item}' is not host:port (e.g. 10.0.0.5:26379); separate sentinels with commas` });
        return z.NEVER;
      }
      addresses.push({ host: match.groups!.host!.replace(/^\[|\]$/g, ''), port });
    }
    if (addresses.length === 0) {
      context.addIssue({ code: 'custom', message: 'lists no sentinel; give host:port,host:port or unset it' });
      return z.NEVER;
    }
    return addresses;
  });

export const redisEnv = {
  REDIS_SENTINELS: sentinelList.optional(),
  /** The master name the sentinels monitor (`sentinel monitor <name> ...` in sentinel.conf). */
  REDIS_SENTINEL_NAME: z.string().trim().min(1).default('mymaster'),
  /** `requirepass` of the master and replicas, when Sentinel finds them (a REDIS_URL carries its own). */
  REDIS_PASSWORD: z.string().optional(),
  /** `requirepass` of the sentinels themselves, if set there. */
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
};

interface RedisEnv {
  REDIS_URL?: string | undefined;
  REDIS_SENTINELS?: SentinelAddress[] | undefined;
  REDIS_SENTINEL_NAME: string;
  REDIS_PASSWORD?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
}

/** A problem with the Redis settings taken together, or undefined. */
export function redisEnvProblem(config: RedisEnv): string | undefined {
  if (config.REDIS_URL && config.REDIS_SENTINELS) {
    return 'REDIS_URL and REDIS_SENTINELS are both set: set REDIS_URL for one Redis server, or REDIS_SENTINELS (with REDIS_SENTINEL_NAME) for a master found through Sentinel, not both';
  }
  return undefined;
}

export type RedisTarget =
  | { kind: 'url'; url: string }
  | { kind: 'sentinel'; sentinels: SentinelAddress[]; name: string; password?: string | undefined; sentinelPassword?: string | undefined };

/** Undefined when neither is set: cache, rate limits and jobs then run in this process. */
export function redisTargetOf(config: RedisEnv): RedisTarget | undefined {
  if (config.REDIS_SENTINELS) {
    return { kind: 'sentinel', sentinels: config.REDIS_SENTINELS, name: config.REDIS_SENTINEL_NAME, password: config.REDIS_PASSWORD, sentinelPassword: config.REDIS_SENTINEL_PASSWORD };
  }
  return config.REDIS_URL ? { kind: 'url', url: config.REDIS_URL } : undefined;
}

/** For logs and /health/ready: where Redis is, without passwords. */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.kind === 'sentinel') return `master '${target.name}' via sentinels ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  const url = new URL(target.url);
  url.password = '';
  url.username = '';
  return url.toString();
}
