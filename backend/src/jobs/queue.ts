import { Queue, Worker, type Job } from 'bullmq';
import { Counter, Histogram } from 'prom-client';
import type { AppContext } from '../context.js';
import { redisConnection } from '../cache/redis.js';
import { redisTargetOf } from '../config/redis.js';
import type { Logger } from '../logger.js';
import { LOST_NEXT_TICK, paceWorkerRetries } from './worker-retries.js';

/** A recurring job: a name, how often, and what to do. `scheduledAt` is the tick's logical time. */
export interface RecurringJob {
  name: string;
  everyMs: number;
  run(scheduledAt: Date): Promise<void>;
}

export interface JobRunner {
  readonly mode: 'bullmq' | 'in-process';
  /** Runs a job now (outside its schedule), e.g. from tests or the CLI. */
  runNow(name: string, scheduledAt?: Date): Promise<void>;
  close(): Promise<void>;
}

const QUEUE_NAME = 'metricshub-jobs';
const ATTEMPTS = 5;
const BACKOFF_MS = 1_000;

/** What the runner needs of the application: Redis settings, a logger, the metrics registry. */
export type JobContext = Pick<AppContext, 'config' | 'logger' | 'metrics'>;

function jobMetrics(context: JobContext) {
  const registry = context.metrics.registry;
  return {
    failed:
      (registry.getSingleMetric('metricshub_jobs_failed_total') as Counter<'job'> | undefined) ??
      new Counter({ name: 'metricshub_jobs_failed_total', help: 'Job attempts that failed (each retry counts)', labelNames: ['job'], registers: [registry] }),
    duration:
      (registry.getSingleMetric('metricshub_job_duration_seconds') as Histogram<'job' | 'outcome'> | undefined) ??
      new Histogram({
        name: 'metricshub_job_duration_seconds',
        help: 'Job run time by job and outcome',
        labelNames: ['job', 'outcome'],
        buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
        registers: [registry],
      }),
  };
}

/** Aligns a time down to the job's period, so retries of one tick share a logical time. */
export function tickOf(time: number, everyMs: number): Date {
  return new Date(Math.floor(time / everyMs) * everyMs);
}

/** How long scheduler registration waits on Redis before saying so in the log (it keeps waiting). */
const REGISTRATION_NOTICE_MS = 5_000;

/**
 * Upserts one job scheduler per job (every process does; the same id is one
 * scheduler). Not awaited by startup: a Redis that is down or stalled holds the
 * commands (BullMQ's connections queue them until Redis answers), and the
 * server must still start, serve and stop meanwhile. Resolves, never rejects.
 */
async function registerSchedulers(queue: Queue, jobs: RecurringJob[], logger: Logger): Promise<void> {
  const upserts = Promise.all(jobs.map((job) => queue.upsertJobScheduler(job.name, { every: job.everyMs }, { name: job.name, data: {} })));
  let notice: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => (notice = setTimeout(() => resolve('slow'), REGISTRATION_NOTICE_MS).unref()));
  try {
    if ((await Promise.race([upserts, slow])) === 'slow') {
      logger.warn({ jobs: jobs.map((job) => job.name) }, `job schedulers not registered yet: Redis has not answered for ${REGISTRATION_NOTICE_MS / 1000} s; the jobs start when it does`);
      await upserts;
      logger.info('job schedulers registered');
    }
  } catch (error) {
    logger.info({ err: error }, 'job schedulers not registered (the queue closed before Redis answered)');
  } finally {
    clearTimeout(notice);
  }
}

/**
 * Starts the recurring jobs: on a BullMQ queue with job schedulers when Redis
 * is configured (every process upserts the same schedulers, one process runs
 * each tick, failed attempts retry with exponential backoff), or on in-process
 * timers otherwise (the embedded, single-process mode).
 */
export async function startJobs(context: JobContext, jobs: RecurringJob[]): Promise<JobRunner> {
  const metrics = jobMetrics(context);
  const byName = new Map(jobs.map((job) => [job.name, job]));
  const timed = async (job: RecurringJob, scheduledAt: Date) => {
    const stop = metrics.duration.startTimer({ job: job.name });
    try {
      await job.run(scheduledAt);
      stop({ outcome: 'ok' });
    } catch (error) {
      stop({ outcome: 'failed' });
      metrics.failed.inc({ job: job.name });
      context.logger.warn({ job: job.name, err: error }, 'job failed');
      throw error;
    }
  };
  const runNow = async (name: string, scheduledAt = new Date()) => {
    const job = byName.get(name);
    if (!job) throw new Error(`unknown job '${name}' (known: ${[...byName.keys()].join(', ')})`);
    await timed(job, scheduledAt);
  };

  const target = redisTargetOf(context.config);
  if (!target) {
    const timers = jobs.map((job) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return; // never overlap a slow run with the next tick
        running = true;
        timed(job, tickOf(Date.now(), job.everyMs))
          .catch(() => undefined)
          .finally(() => (running = false));
      }, job.everyMs);
      timer.unref();
      return timer;
    });
    return {
      mode: 'in-process',
      runNow,
      close: async () => timers.forEach((timer) => clearInterval(timer)),
    };
  }

  // BullMQ needs its own connections with maxRetriesPerRequest: null (blocking commands); under
  // Sentinel they follow a failover to the promoted replica like the shared connection.
  const connection = redisConnection(target, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  const queue = new Queue(QUEUE_NAME, {
    connection,
    defaultJobOptions: { attempts: ATTEMPTS, backoff: { type: 'exponential', delay: BACKOFF_MS }, removeOnComplete: 1_000, removeOnFail: 5_000 },
  });
  let closing = false;
  // Connection ends while closing are expected, not warnings.
  const connectionError = (what: string) => (error: Error) =>
    closing ? context.logger.debug({ err: error }, `${what} while closing`) : context.logger.warn({ err: error }, what);
  queue.on('error', connectionError('job queue connection error'));
  let registered = registerSchedulers(queue, jobs, context.logger);
  const registerAgain = () => {
    if (!closing) registered = registered.then(() => registerSchedulers(queue, jobs, context.logger));
  };
  // A Redis restarted without persistence comes back without the schedulers, and nothing would
  // ever run again: register them again on every reconnect (an upsert of the same scheduler is a no-op).
  void queue.client.then((client) => client.on('ready', registerAgain)).catch(() => undefined);
  const worker = new Worker(
    QUEUE_NAME,
    async (bullJob: Job) => {
      const job = byName.get(bullJob.name);
      if (!job) return;
      // The scheduler's own timestamp for this tick; identical on every retry.
      await timed(job, tickOf(bullJob.timestamp + (bullJob.opts.delay ?? 0), job.everyMs));
    },
    { connection, concurrency: 2, autorun: false },
  );
  const workerError = connectionError('job worker error');
  worker.on('error', (error) => {
    workerError(error);
    if (LOST_NEXT_TICK.test(error.message)) registerAgain();
  });
  paceWorkerRetries(worker, context.logger);
  worker.run().catch((error: unknown) => context.logger.error({ err: error }, 'job worker stopped'));
  return {
    mode: 'bullmq',
    runNow,
    // BullMQ's close waits on Redis; while Redis is down that would block shutdown forever.
    close: async () => {
      closing = true;
      const closed = Promise.allSettled([worker.close(true), queue.close(), registered]);
      const timeout = new Promise((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([closed, timeout]);
      await Promise.allSettled([worker.disconnect(), queue.disconnect()]);
    },
  };
}
