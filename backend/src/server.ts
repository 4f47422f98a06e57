import type { Server } from 'node:http';
import type { Express } from 'express';
import { createApp } from './app.js';
import { createRedis } from './cache/redis.js';
import { CacheVersions } from './cache/versions.js';
import type { AppConfig } from './config/env.js';
import { describeRedisTarget, redisTargetOf } from './config/redis.js';
import type { AppContext } from './context.js';
import { openEmbeddedPostgres, takeOverShutdownSignals, watchPostmaster } from './db/embedded.js';
import type { EmbeddedRole } from './db/embedded-record.js';
import { migrateUp } from './db/migrate.js';
import { createPool, currentWalPosition } from './db/pool.js';
import { ReadReplicas } from './db/replicas.js';
import { createLogger, type Logger } from './logger.js';
import { buildApiModules } from './modules.js';
import type { DemoResult } from './demo/run.js';
import { Metrics } from './observability/metrics.js';

export interface RunningServer {
  app: Express;
  server: Server;
  context: AppContext;
  /** The port actually bound (PORT=0 picks a free one). */
  port: number;
  close(): Promise<void>;
  /**
   * Settles, with what to tell the user, if the embedded PostgreSQL stops while the
   * service runs (never settles on DATABASE_URL, or after close()).
   */
  databaseLost: Promise<string>;
}

/**
 * Resolves the database: DATABASE_URL, or the embedded PostgreSQL under DATA_DIR,
 * the one already running there (a CLI command while `serve` runs) or a new one.
 */
export async function resolveDatabase(config: AppConfig, logger: Logger, role: EmbeddedRole = 'cli'): Promise<{ url: string; embedded: boolean; pid?: number; stop?: () => Promise<void> }> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL, embedded: false };
  const embedded = await openEmbeddedPostgres(config.DATA_DIR, logger, role);
  logger.info({ dataDir: config.DATA_DIR, pid: embedded.pid, how: embedded.how }, 'DATABASE_URL not set: using the embedded PostgreSQL');
  return { url: embedded.url, embedded: true, pid: embedded.pid, stop: embedded.stop };
}

export async function buildContext(config: AppConfig, logger: Logger, databaseUrl: string): Promise<AppContext> {
  const pool = createPool(databaseUrl, config.DB_POOL_MAX, logger);
  const redisTarget = redisTargetOf(config);
  const redis = redisTarget ? createRedis(redisTarget, logger) : undefined;
  const metrics = new Metrics();
  const replicas = config.DATABASE_READ_URL ? new ReadReplicas(pool, config.DATABASE_READ_URL, config.DB_POOL_MAX, logger, metrics.registry) : undefined;
  const context: AppContext = {
    config,
    logger,
    pool,
    replicas,
    redis,
    metrics,
    // Read floors are only needed when a replica may answer; seeded from the primary's position.
    cacheVersions: new CacheVersions(redis, replicas ? () => currentWalPosition(pool) : undefined),
    readinessChecks: [],
    shutdown: new AbortController(),
    onClose: [],
  };
  context.readinessChecks.push({
    name: 'database',
    check: async () => {
      await pool.query('SELECT 1');
      return { ok: true, detail: 'ok' };
    },
  });
  context.readinessChecks.push({
    name: 'cache',
    check: async () => {
      if (!redis) return { ok: true, detail: 'in-process (REDIS_URL and REDIS_SENTINELS not set)' };
      const answer = await redis.ping().catch((error: Error) => `redis unreachable: ${error.message}`);
      return answer === 'PONG' ? { ok: true, detail: redisTarget!.kind === 'sentinel' ? `redis ok (${describeRedisTarget(redisTarget!)})` : 'redis ok' } : { ok: false, detail: answer };
    },
  });
  context.onClose.push(async () => {
    redis?.disconnect();
    await replicas?.close();
    await pool.end();
  });
  return context;
}

/**
 * DEMO_DATA=auto loads demo data the first time an embedded database starts
 * (no organization yet), so `npm start` shows something true at once; `on`
 * does it for any empty database, `off` never.
 */
async function loadDemoOnFirstRun(config: AppConfig, context: AppContext, embedded: boolean): Promise<DemoResult | undefined> {
  if (config.DEMO_DATA === 'off' || (config.DEMO_DATA === 'auto' && !embedded)) return undefined;
  const existing = await context.pool.query('SELECT 1 FROM organizations LIMIT 1');
  if ((existing.rowCount ?? 0) > 0) return undefined;
  const { runDemo, describeDemo } = await import('./demo/run.js');
  context.logger.info('empty database: loading demo data (DEMO_DATA=%s)', config.DEMO_DATA);
  const result = await runDemo(context, {});
  console.log(describeDemo(result));
  return result;
}

/** Listens on HOST:PORT; a port in use gets one sentence saying what to do. */
async function listen(app: Express, config: AppConfig): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.PORT, config.HOST, () => resolve(listening));
    listening.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${config.PORT} on ${config.HOST} is already in use (another metrics-hub?): stop that process or set PORT to a free port`) : error);
    });
  });
}

/** Starts the whole service: database (embedded if needed), migrations, modules, HTTP. */
export async function startServer(config: AppConfig, logger = createLogger(config.LOG_LEVEL)): Promise<RunningServer> {
  const database = await resolveDatabase(config, logger, 'serve');
  try {
    await migrateUp(database.url, logger);
  } catch (error) {
    await database.stop?.();
    throw error;
  }
  const context = await buildContext(config, logger, database.url);
  if (database.stop) context.onClose.unshift(database.stop);
  let app: Express;
  let server: Server;
  try {
    const demo = await loadDemoOnFirstRun(config, context, database.embedded);
    const { routers, anomalies } = await buildApiModules(context);
    if (demo) {
      // Before listening, so it is done before the scheduler's first tick.
      const { replayDemoAlerts } = await import('./demo/alerts.js');
      const replayed = await replayDemoAlerts(anomalies, demo, logger);
      console.log(`Demo alerts: ${replayed.transitions} alert transitions around the recorded incidents (${(replayed.elapsedMs / 1000).toFixed(1)} s), at /api/v1/alerts and /api/v1/annotations`);
    }
    app = createApp(context, routers);
    server = await listen(app, config);
  } catch (error) {
    // Release what started (pool, jobs, the embedded database) so a failed start leaves nothing running.
    for (const hook of [...context.onClose].reverse()) await hook().catch(() => undefined);
    throw error;
  }
  // Keep-alive sockets would hold `server.close()` open until they time out.
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const redisTarget = redisTargetOf(config);
  logger.info({ port, embeddedDatabase: database.embedded, redis: redisTarget ? describeRedisTarget(redisTarget) : false }, 'metrics-hub listening');

  const databaseLost = new Promise<string>((resolve) => {
    if (!database.pid) return;
    const pid = database.pid;
    const stopWatching = watchPostmaster(pid, () =>
      resolve(`the embedded PostgreSQL (PID ${pid}, data in ${config.DATA_DIR}) stopped while metrics-hub was running, so metrics-hub stops too; run it again (npm start) to start the database on the same data`),
    );
    // Before anything else on close: the planned stop of the database must not count as a loss.
    context.onClose.push(async () => stopWatching());
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Stop accepting, end streams, let in-flight requests finish, then release connections.
      context.shutdown.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      for (const hook of [...context.onClose].reverse()) {
        await hook().catch((error: unknown) => logger.warn({ err: error }, 'error during shutdown'));
      }
      logger.info('metrics-hub stopped');
    })();
    return closing;
  };
  return { app, server, context, port, close, databaseLost };
}

/**
 * SIGTERM/SIGINT (and SIGHUP, a closed terminal): graceful stop, the embedded
 * database last; forced after SHUTDOWN_GRACE_MS.
 */
export function installSignalHandlers(running: RunningServer): void {
  const { logger } = running.context;
  takeOverShutdownSignals();
  let stopping = false;
  const stop = (exitCode: number) => {
    stopping = true;
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, running.context.config.SHUTDOWN_GRACE_MS);
    force.unref();
    running.close().then(
      () => process.exit(exitCode),
      () => process.exit(1),
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // A second Ctrl-C must not kill the process half-way: the database would be left running.
    if (stopping) return logger.info({ signal }, 'already shutting down');
    logger.info({ signal }, 'shutting down');
    stop(0);
  };
  void running.databaseLost.then((message) => {
    if (stopping) return;
    logger.error(message);
    stop(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, onSignal);
  // SIGHUP reloads the catalog (the daemon convention) rather than stopping; a file that
  // does not validate is logged and the catalog in force keeps serving.
  process.on('SIGHUP', () => {
    const reload = running.context.reloadCatalog;
    if (!reload) return;
    reload({ signal: 'SIGHUP' }).catch((error: unknown) => logger.error({ err: error }, 'SIGHUP: catalog not reloaded; the catalog in force keeps serving'));
  });
}
