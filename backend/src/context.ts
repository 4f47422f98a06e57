import type { AppConfig } from './config/env.js';
import type { Pool } from './db/pool.js';
import type { ReadReplicas } from './db/replicas.js';
import type { Redis } from './cache/redis.js';
import type { CacheVersions } from './cache/versions.js';
import type { Logger } from './logger.js';
import type { Metrics } from './observability/metrics.js';
import type { ReadinessCheck } from './health/routes.js';
import type { JobRunner } from './jobs/queue.js';
import type { SourceStatus } from './sources/registry.js';

/** One source's headline: which metric stands for it and its value over a range (null when it failed or has no data). */
export interface SourceHeadline {
  source: string;
  metric: string;
  metricLabel: string;
  unit: string;
  value: number | null;
}

/**
 * What every module receives: configuration and the shared connections.
 * Built once by `server.ts`; modules never create their own pools.
 */
export interface AppContext {
  config: AppConfig;
  logger: Logger;
  /** The primary (follows a failover when DATABASE_URL names several servers): writes, key checks, read-your-writes. */
  pool: Pool;
  /** Hot standbys of DATABASE_READ_URL for rollup reads (none configured: every read uses `pool`). */
  replicas?: ReadReplicas;
  /** Undefined when REDIS_URL is unset: cache and jobs run in-process. */
  redis: Redis | undefined;
  metrics: Metrics;
  /** Bumped by every write that changes an organization's aggregates. */
  cacheVersions: CacheVersions;
  /** Modules push their dependencies here; `/health/ready` runs them all. */
  readinessChecks: ReadinessCheck[];
  /** The recurring jobs (alert evaluation, maintenance), once started; `runNow` runs one on demand. */
  jobs?: JobRunner;
  /** Last known state of every catalog source, once the source registry runs (read by the `system` source). */
  sourceStatuses?: () => SourceStatus[];
  /** Each source's headline metric over [from, to) for one organization (read by the `system` source's `headlines` report). */
  sourceHeadlines?: (organizationId: string, from: Date, to: Date) => Promise<SourceHeadline[]>;
  /** Aborted when shutdown begins: long-lived responses (live streams) end on it. */
  shutdown: AbortController;
  /** Reads the catalog file again and swaps it in (SIGHUP); set by the admin module. */
  reloadCatalog?: (actor: { signal: string }) => Promise<unknown>;
  /** Run in reverse order on shutdown, after the HTTP server stopped. */
  onClose: Array<() => Promise<void>>;
}
