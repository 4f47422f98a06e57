import { Queue, Worker, type Job } from 'bullmq';
import { Counter, Histogram } from 'prom-client';
import type { AppContext } from '../context.js';
import { redisConnection } from '../cache/redis.js';
import { redisTargetOf } from '../config/redis.js';

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

function jobMetrics(context: AppContext) {
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

/**
 * Starts the recurring jobs: on a BullMQ queue with job schedulers when Redis
 * is configured (every process upserts the same schedulers, one process runs
 * each tick, failed attempts retry with exponential backoff), or on in-process
 * timers otherwise (the embedded, single-process mode).
 */
export async function startJobs(context: AppContext, jobs: RecurringJob[]): Promise<JobRunner> {
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
  queue.on('error', (error) => context.logger.warn({ err: error }, 'job queue connection error'));
  for (const job of jobs) {
    await queue.upsertJobScheduler(job.name, { every: job.everyMs }, { name: job.name, data: {} });
  }
  const worker = new Worker(
    QUEUE_NAME,
    async (bullJob: Job) => {
      const job = byName.get(bullJob.name);
      if (!job) return;
      // The scheduler's own timestamp for this tick; identical on every retry.
      await timed(job, tickOf(bullJob.timestamp + (bullJob.opts.delay ?? 0), job.everyMs));
    },
    { connection, concurrency: 2 },
  );
  worker.on('error', (error) => context.logger.warn({ err: error }, 'job worker error'));
  return {
    mode: 'bullmq',
    runNow,
    // BullMQ's close waits on Redis; while Redis is down that would block shutdown forever.
    close: async () => {
      const closing = Promise.allSettled([worker.close(true), queue.close()]);
      const timeout = new Promise((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([closing, timeout]);
      await Promise.allSettled([worker.disconnect(), queue.disconnect()]);
    },
  };
}
