import type { Router } from 'express';
import type { AppContext } from '../context.js';
import { startJobs, tickOf, type JobRunner } from '../jobs/queue.js';
import { foldTotalsJob } from '../jobs/fold-totals.js';
import { runMaintenance } from '../jobs/maintenance.js';
import { pruneStates } from '../jobs/state-retention.js';
import { LEVEL_SNAPSHOT_JOB, levelSnapshotJob, snapshotDue } from '../levels/snapshot.js';
import type { ActiveCatalog } from '../query/active-catalog.js';
import { RuleEvaluator } from './evaluator.js';
import { anomaliesRouter } from './routes.js';
import { loadRules, type MetricRule } from './rules.js';
import { listAlerts } from './store.js';

export interface AnomalyModule {
  router: Router;
  /** The rules and evaluator of the catalog in force (replaced on reload). */
  readonly rules: MetricRule[];
  readonly evaluator: RuleEvaluator;
  jobs: JobRunner;
}

export const EVALUATE_JOB = 'evaluate-alerts';
export const MAINTENANCE_JOB = 'rollup-maintenance';

/**
 * Anomaly rules from the catalog, evaluated every ALERT_EVALUATION_INTERVAL_SECONDS
 * on the job queue (BullMQ with Redis, in-process without), with rollup
 * maintenance and the folding of pending totals on the same queue. Serves /alerts and /annotations.
 */
export async function createAnomalyModule(context: AppContext, active: ActiveCatalog): Promise<AnomalyModule> {
  // A reloaded catalog is refused before the swap if its rules do not validate.
  active.addValidator((catalog) => loadRules(catalog));
  let rules = loadRules(active.current.catalog);
  let evaluator = new RuleEvaluator(context.pool, active.current.service, context.logger);
  active.onSwap((generation) => {
    rules = loadRules(generation.catalog);
    evaluator = new RuleEvaluator(context.pool, generation.service, context.logger);
  });
  const jobs = await startJobs(context, [
    {
      name: EVALUATE_JOB,
      everyMs: context.config.ALERT_EVALUATION_INTERVAL_SECONDS * 1000,
      run: async (scheduledAt) => {
        // The evaluation keeps the sources of its catalog open until it ends, even across a reload.
        const lease = active.acquire();
        try {
          await evaluator.evaluateAll(rules, scheduledAt.getTime());
        } finally {
          lease.release();
        }
      },
    },
    foldTotalsJob(context),
    {
      name: MAINTENANCE_JOB,
      everyMs: 3_600_000,
      run: async () => {
        const { dropped } = await runMaintenance(context.pool, context.config.RAW_RETENTION_DAYS);
        if (dropped.length > 0) context.logger.info({ dropped }, 'raw event partitions past retention dropped');
        const pruned = await pruneStates(context.pool, context.config.STATE_RETENTION_DAYS);
        if (pruned.conversations + pruned.agents > 0) context.logger.info(pruned, 'conversation and agent states past retention deleted');
      },
    },
    // Getters: each daily run snapshots the levels of the catalog in force then.
    levelSnapshotJob({
      pool: context.pool,
      get catalog() {
        return active.current.catalog;
      },
      get registry() {
        return active.current.registry;
      },
      cacheVersions: context.cacheVersions,
      logger: context.logger,
    }),
  ]);
  // A deployment without a recent snapshot takes one now rather than in a day; instances starting
  // in the same hour share the tick, so only the first records it.
  if (await snapshotDue(context.pool)) void jobs.runNow(LEVEL_SNAPSHOT_JOB, tickOf(Date.now(), 3_600_000)).catch(() => undefined);
  context.jobs = jobs;
  context.onClose.push(() => jobs.close());
  return {
    router: anomaliesRouter(context.pool),
    get rules() {
      return rules;
    },
    get evaluator() {
      return evaluator;
    },
    jobs,
  };
}

/** The summary's `alerts`: what is firing now for the organization. */
export function firingAlerts(context: AppContext) {
  return (organizationId: string) => listAlerts(context.pool, organizationId, ['firing']);
}
