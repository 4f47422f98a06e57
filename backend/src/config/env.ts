import { z } from 'zod';
import { DatabaseUrlError, serverUrls } from '../db/hosts.js';
import { fromRepoRoot } from './paths.js';
import { fairnessEnv } from './fairness.js';
import { redisEnv, redisEnvProblem } from './redis.js';

/**
 * Environment configuration, validated once at start. A bad value stops the
 * process with a message that names the variable and the reason, so an
 * operator never has to guess which setting is wrong.
 */
const urlWithProtocol = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

/** One PostgreSQL URL, a libpq multi-host URL, or a comma-separated list of URLs (db/hosts.ts). */
const postgresServers = () =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      try {
        serverUrls(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: error instanceof DatabaseUrlError ? error.message : String(error) });
      }
    });

const positiveInt = (name: string) =>
  z.coerce.number({ message: `${name} must be a number` }).int('must be a whole number').positive('must be > 0');

export const envSchema = z.object({
  PORT: z.coerce
    .number({ message: 'must be a number' })
    .int('must be a whole number')
    .min(0, 'must be between 0 and 65535')
    .max(65535, 'must be between 0 and 65535')
    .default(4100),
  HOST: z.string().default('0.0.0.0'),
  /** Several servers (`postgres://u:p@h1,h2/db`): the one not in recovery takes every connection, found again after a failover. */
  DATABASE_URL: postgresServers().optional(),
  /** Hot standbys for rollup reads; each answers only once it has replayed the organization's newest write. */
  DATABASE_READ_URL: postgresServers().optional(),
  REDIS_URL: urlWithProtocol(['redis:', 'rediss:']).optional(),
  ...redisEnv,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CATALOG_FILE: z.string().min(1).optional(),
  /** Relative to the repository root, so `npm start` (in backend/) and `npx metrics-hub` (anywhere) share one folder. */
  DATA_DIR: z.string().min(1).default('.metrics-hub').transform(fromRepoRoot),
  CACHE_TTL_SECONDS: positiveInt('CACHE_TTL_SECONDS').default(45),
  DB_POOL_MAX: positiveInt('DB_POOL_MAX').default(10),
  SHUTDOWN_GRACE_MS: positiveInt('SHUTDOWN_GRACE_MS').default(10_000),
  DEMO_DATA: z.enum(['auto', 'on', 'off']).default('auto'),
  MAX_BODY_BYTES: positiveInt('MAX_BODY_BYTES').default(5 * 1024 * 1024),
  INGEST_MAX_EVENTS: positiveInt('INGEST_MAX_EVENTS').default(5_000),
  INGEST_MAX_FUTURE_SKEW_SECONDS: positiveInt('INGEST_MAX_FUTURE_SKEW_SECONDS').default(300),
  RAW_RETENTION_DAYS: positiveInt('RAW_RETENTION_DAYS').default(400),
  /**
   * Rows of conversation_states and agent_availability untouched for this long
   * are deleted (jobs/state-retention.ts). Unset: RAW_RETENTION_DAYS.
   */
  STATE_RETENTION_DAYS: positiveInt('STATE_RETENTION_DAYS').optional(),
  ALERT_EVALUATION_INTERVAL_SECONDS: positiveInt('ALERT_EVALUATION_INTERVAL_SECONDS').default(60),
  /** Longest time range one query may ask for; longer ones get a per-query error naming this cap. */
  QUERY_MAX_RANGE_DAYS: positiveInt('QUERY_MAX_RANGE_DAYS').default(400),
  /** Requests per API key per minute, shared across processes through Redis; 0 turns the limit off. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(0, 'must be >= 0 (0 turns it off)').default(6_000),
  ...fairnessEnv,
})
  // A state younger than the raw events still decides whether a retried or late event counts: keep it as long.
  .refine((env) => env.STATE_RETENTION_DAYS === undefined || env.STATE_RETENTION_DAYS >= env.RAW_RETENTION_DAYS, {
    message: 'must be at least RAW_RETENTION_DAYS (a late event within the raw retention needs its conversation\'s or agent\'s state)',
    path: ['STATE_RETENTION_DAYS'],
  })
  .transform((env) => ({ ...env, STATE_RETENTION_DAYS: env.STATE_RETENTION_DAYS ?? env.RAW_RETENTION_DAYS }));

export type AppConfig = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset: `DATABASE_URL= npm start` means "use the embedded database". */
function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const redisProblem = redisEnvProblem(parsed.data);
  if (redisProblem) throw new ConfigError([redisProblem]);
  return parsed.data;
}
