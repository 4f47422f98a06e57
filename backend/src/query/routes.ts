import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { principalOf } from '../auth/middleware.js';
import { suggestMetric } from '../catalog/load.js';
import type { CatalogMetric } from '../catalog/schema.js';
import { HttpError } from '../http/errors.js';
import { jsonBody } from '../http/json-body.js';
import type { SourceRegistry } from '../sources/registry.js';
import { DAY_MS } from './buckets.js';
import { writeQueryAnswer } from './answer-writer.js';
import { AnswerBudget, BudgetError } from './budget.js';
import { isPlanError } from './planner.js';
import { filterSchema, firstIssue, instantSchema, MAX_INTERVAL_MS, queryRequestSchema } from './schema.js';
import type { QueryService } from './service.js';

/** Recent alerts for the summary; the anomaly engine provides them (none until it does). */
export type AlertsFor = (organizationId: string, range: { from: Date; to: Date }) => Promise<unknown[]>;

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const { field, message } = firstIssue(parsed.error);
    throw new HttpError(400, message, field || undefined);
  }
  return parsed.data;
}

/** A query-string list: repeated (`a=1&a=2`) or comma-separated (`a=1,2`). */
const listParam = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((item) => item.split(',')).map((item) => item.trim()).filter(Boolean));

const rangeParams = {
  from: instantSchema.optional(),
  to: instantSchema.optional(),
};

/** Default range of the summary and variables: the last day up to now. */
function rangeOf(params: { from?: Date; to?: Date }, days: number): { from: Date; to: Date } {
  const to = params.to ?? new Date();
  return { from: params.from ?? new Date(to.getTime() - days * DAY_MS), to };
}

const exportSchema = z.object({
  from: instantSchema,
  to: instantSchema,
  intervalMs: z.coerce.number().positive('must be > 0').max(MAX_INTERVAL_MS, `must be at most ${MAX_INTERVAL_MS} (10 years)`).optional(),
  maxDataPoints: z.coerce.number().int('must be a whole number').positive('must be > 0').max(100_000).default(1000),
  source: z.string().min(1).max(200).optional(),
  metric: z.string().min(1).max(200),
  aggregation: z.string().min(1).max(200).optional(),
  groupBy: listParam.optional(),
  filters: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON list of filters, e.g. [{"dimension":"channel","op":"eq","value":"web"}]' });
        return z.NEVER;
      }
    })
    .pipe(z.array(filterSchema).max(50))
    .optional(),
  format: z.enum(['timeseries', 'table'], { message: 'must be timeseries or table' }).default('timeseries'),
});

const variablesSchema = z.object({
  query: z.enum(['metrics', 'sources', 'dimensions', 'dimension_values'], { message: 'must be one of metrics, sources, dimensions, dimension_values' }),
  source: z.string().max(200).optional(),
  metric: z.string().max(200).optional(),
  dimension: z.string().max(200).optional(),
  ...rangeParams,
});

const summarySchema = z.object({ metrics: listParam.optional(), ...rangeParams });

/**
 * A failed series read as the HTTP answer of a single-question route: over
 * budget 422, the request's own bad input 400, otherwise the source is
 * unavailable (503, retry) or the server failed (500).
 */
function asHttpError(service: QueryService, refId: string) {
  return (error: unknown): never => {
    if (error instanceof HttpError) throw error;
    const failure = service.failure(error, refId);
    if (error instanceof BudgetError || failure.status === 400) throw new HttpError(failure.status, failure.error!);
    throw new HttpError(failure.status === 500 ? 500 : 503, failure.error!, undefined, { 'Retry-After': '5' });
  };
}

export interface QueryRouterOptions {
  service: QueryService;
  registry: SourceRegistry;
  alertsFor: AlertsFor;
  cacheMode: () => 'redis' | 'in-process';
}

function listColumnsOf(metric: CatalogMetric): string[] | undefined {
  return (metric.query as { list?: string[] } | undefined)?.list;
}

/** POST /query, GET /catalog, POST /variables, GET /summary, GET /export.csv, GET /whoami. */
export function queryRouter({ service, registry, alertsFor, cacheMode }: QueryRouterOptions): Router {
  const router = Router();
  const { catalog } = service;

  const metricOr400 = (key: string | undefined, field: string): CatalogMetric => {
    if (!key) throw new HttpError(400, `${field}: a metric is required`, field);
    const metric = catalog.metric(key);
    if (!metric) throw new HttpError(400, `metric '${key}' is not in the catalog${suggestMetric(catalog, key)}`, field);
    return metric;
  };

  router.post('/query', async (req, res) => {
    const request = parse(queryRequestSchema, jsonBody(req, '{"from":"now-7d","to":"now","queries":[{"refId":"A","metric":"orders_created"}]}'));
    const { results } = await service.query(principalOf(req).organizationId, request);
    await writeQueryAnswer(res, results, service.limits.maxResponseBytes);
  });

  router.get('/catalog', (_req, res) => {
    res.json({
      sources: registry.status().map(({ id, type, label, status, latencyMs, lastError, lastSuccessAt }) => ({
        id,
        type,
        label,
        description: catalog.source(id)?.description ?? '',
        status,
        latencyMs,
        lastError,
        lastSuccessAt,
      })),
      metrics: catalog.metrics.map((metric) => ({
        key: metric.key,
        label: metric.label,
        description: metric.description,
        unit: metric.unit,
        source: metric.source,
        kind: metric.kind,
        aggregations: metric.aggregations,
        defaultAggregation: metric.defaultAggregation,
        dimensions: metric.dimensions,
        higherIsBetter: metric.higherIsBetter,
        // Default columns of format 'list', present on metrics the catalog marks list-friendly.
        ...(listColumnsOf(metric) && { listColumns: listColumnsOf(metric) }),
      })),
    });
  });

  router.post('/variables', async (req, res) => {
    const body = parse(variablesSchema, req.body ?? {});
    switch (body.query) {
      case 'sources':
        res.json(catalog.sources.map((source) => ({ text: source.label ?? source.id, value: source.id })));
        return;
      case 'metrics':
        res.json(catalog.metrics.filter((metric) => !body.source || metric.source === body.source).map((metric) => ({ text: metric.label, value: metric.key })));
        return;
      case 'dimensions':
        res.json(metricOr400(body.metric, 'metric').dimensions.map((dimension) => ({ text: dimension, value: dimension })));
        return;
      case 'dimension_values': {
        const metric = metricOr400(body.metric, 'metric');
        if (!body.dimension) throw new HttpError(400, 'dimension: a dimension is required for dimension_values', 'dimension');
        const { from, to } = rangeOf(body, 30);
        const aggregation = metric.aggregations.includes('count') ? 'count' : metric.defaultAggregation;
        const plan = service.plan({ refId: 'variables', metric: metric.key, aggregation, groupBy: [body.dimension], filters: [], format: 'table', compareToPrevious: false, live: false, hide: false }, { from, to, intervalMs: undefined, maxDataPoints: 1 });
        if (isPlanError(plan)) throw new HttpError(plan.status, plan.error, plan.error.startsWith('dimension') ? 'dimension' : undefined);
        const budget = new AnswerBudget(service.limits);
        const { series } = await service.series(principalOf(req).organizationId, plan, from, to, (count) => budget.checkSeries(plan, count)).catch(asHttpError(service, 'variables'));
        const values = [...new Set(series.map((one) => one.labels[body.dimension!] ?? '').filter(Boolean))].sort();
        res.json(values.map((value) => ({ text: value, value })));
        return;
      }
    }
  });

  router.get('/summary', async (req, res) => {
    const params = parse(summarySchema, req.query);
    const organizationId = principalOf(req).organizationId;
    const range = rangeOf(params, 1);
    if (range.from.getTime() >= range.to.getTime()) throw new HttpError(400, 'from: must be before to', 'from');
    const metrics = (params.metrics ?? catalog.metrics.map((metric) => metric.key)).map((key) => metricOr400(key, 'metrics'));
    const [cards, alerts, statuses] = await Promise.all([
      Promise.all(
        metrics.map(async (metric) => {
          const base = { key: metric.key, label: metric.label, unit: metric.unit, description: metric.description, source: metric.source };
          const plan = service.plan({ refId: metric.key, metric: metric.key, groupBy: [], filters: [], format: 'kpi', compareToPrevious: false, live: false, hide: false }, { ...range, intervalMs: undefined, maxDataPoints: 1 });
          if (isPlanError(plan)) return { ...base, value: null, previous: null, trend: 'flat', deltaPercent: null, severity: 'healthy', error: plan.error };
          try {
            const { kpi } = await service.kpi(organizationId, plan);
            return { ...base, ...kpi };
          } catch (error) {
            return { ...base, value: null, previous: null, trend: 'flat', deltaPercent: null, severity: 'healthy', error: service.failure(error, metric.key).error };
          }
        }),
      ),
      alertsFor(organizationId, range),
      Promise.resolve(registry.status()),
    ]);
    const healthy = statuses.filter((source) => source.status === 'up').length;
    const firing = { critical: 0, warning: 0 };
    for (const alert of alerts as Array<{ severity?: string }>) if (alert.severity === 'critical' || alert.severity === 'warning') firing[alert.severity] += 1;
    res.json({
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      cards,
      alerts,
      systemHealth: {
        status: healthy === statuses.length ? 'healthy' : healthy === 0 ? 'down' : 'degraded',
        cache: cacheMode(),
        /** Firing alerts of the organization by severity (the automation layer's system health). */
        alerts: { ...firing, total: firing.critical + firing.warning },
        sources: statuses.map(({ id, label, status, latencyMs, lastError, lastSuccessAt }) => ({ id, label, status, latencyMs, lastError, lastSuccessAt })),
      },
    });
  });

  router.get('/export.csv', async (req: Request, res) => {
    const params = parse(exportSchema, req.query);
    const planned = service.plan(
      { refId: 'A', source: params.source, metric: params.metric, aggregation: params.aggregation, groupBy: params.groupBy ?? [], filters: params.filters ?? [], format: params.format, compareToPrevious: false, live: false, hide: false },
      params,
    );
    if (isPlanError(planned)) throw new HttpError(planned.status, planned.error);
    const plan = planned;
    const organizationId = principalOf(req).organizationId;
    // The same budget as /query, and a row cap, both checked before the first row is written.
    const budget = new AnswerBudget(service.limits);
    const withinBudget = (count: number) => {
      try {
        budget.checkSeries(plan, count);
        AnswerBudget.checkExportRows(plan, count, service.limits);
      } catch (error) {
        asHttpError(service, 'A')(error);
      }
    };
    withinBudget(await service.estimateSeries(organizationId, plan).catch(asHttpError(service, 'A')));
    const { series } = await service.series(organizationId, plan, plan.from, plan.to, withinBudget).catch(asHttpError(service, 'A'));
    const columns = [...(plan.format === 'timeseries' ? ['time'] : []), ...plan.groupBy, plan.metric.key];
    function* rows() {
      for (const one of series) {
        for (let index = 0; index < one.times.length; index += 1) {
          const dimensions = plan.groupBy.map((dimension) => one.labels[dimension] ?? '');
          const time = plan.format === 'timeseries' ? [new Date(one.times[index]!).toISOString()] : [];
          yield [...time, ...dimensions, one.values[index] ?? ''];
        }
      }
    }
    res.set('Content-Type', 'text/csv; charset=utf-8');
    res.set('Content-Disposition', `attachment; filename="${plan.metric.key}.csv"`);
    try {
      await pipeline(Readable.from(rows()), stringify({ header: true, columns }), res);
    } catch (error) {
      // The client went away mid-download: nothing to answer any more.
      if (res.headersSent) return;
      throw error;
    }
  });

  router.get('/whoami', (req, res) => {
    const principal = principalOf(req);
    const statuses = registry.status();
    res.json({
      organization: { id: principal.organizationId, name: principal.organizationName },
      key: { id: principal.keyId, scope: principal.scope },
      sources: { total: statuses.length, healthy: statuses.filter((source) => source.status === 'up').length },
    });
  });

  return router;
}
