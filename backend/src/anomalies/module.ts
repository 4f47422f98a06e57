import type { Router } from 'express';
import type { AppContext } from '../context.js';
import { startJobs, tickOf, type JobRunner } from '../jobs/queue.js';
import { foldTotalsJob } from '../jobs/fold-totals.js';
import { runMaintenance } from '../jobs/maintenance.js';
import { LEVEL_SNAPSHOT_JOB, levelSnapshotJob, snapshotDue } from '../levels/snapshot.js';
import type { QueryService } from '../query/service.js';
import { RuleEvaluator } from './evaluator.js';
import { anomaliesRouter } from './routes.js';
import { loadRules, type MetricRule } from './rules.js';
import { listAlerts } from './store.js';

export interface AnomalyModule {
  router: Router;
  rules: MetricRule[];
  evaluator: RuleEvaluator;
  jobs: JobRunner;
}

export const EVALUATE_JOB = 'evaluate-alerts';
export const MAINTENANCE_JOB = 'rollup-maintenance';

/**
 * Anomaly rules from the catalog, evaluated every ALERT_EVALUATION_INTERVAL_SECONDS
 * on the job queue (BullMQ with Redis, in-process without), with rollup
 * maintenance and the folding of pending totals on the same queue. Serves /alerts and /annotations.
 */
export async function createAnomalyModule(context: AppContext, service: QueryService): Promise<AnomalyModule> {
  const rules = loadRules(service.catalog);
  const evaluator = new RuleEvaluator(context.pool, service, context.logger);
  const jobs = await startJobs(context, [
    {
      name: EVALUATE_JOB,
      everyMs: context.config.ALERT_EVALUATION_INTERVAL_SECONDS * 1000,
      run: async (scheduledAt) => {
        await evaluator.evaluateAll(rules, scheduledAt.getTime());
      },
    },
    foldTotalsJob(context),
    {
      name: MAINTENANCE_JOB,
      everyMs: 3_600_000,
      run: async () => {
        const { dropped } = await runMaintenance(context.pool, context.config.RAW_RETENTION_DAYS);
        if (dropped.length > 0) context.logger.info({ dropped }, 'raw event partitions past retention dropped');
      },
    },
    levelSnapshotJob({ pool: context.pool, catalog: service.catalog, registry: service.registry, cacheVersions: context.cacheVersions, logger: context.logger }),
  ]);
  // A deployment without a recent snapshot takes one now rather than in a day; instances starting
  // in the same hour share the tick, so only the first records it.
  if (await snapshotDue(context.pool)) void jobs.runNow(LEVEL_SNAPSHOT_JOB, tickOf(Date.now(), 3_600_000)).catch(() => undefined);
  context.jobs = jobs;
  context.onClose.push(() => jobs.close());
  return { router: anomaliesRouter(context.pool), rules, evaluator, jobs };
}

/** The summary's `alerts`: what is firing now for the organization. */
export function firingAlerts(context: AppContext) {
  return (organizationId: string) => listAlerts(context.pool, organizationId, ['firing']);
}
