import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from '../auth/middleware.js';
import type { Pool } from '../db/pool.js';
import { HttpError } from '../http/errors.js';
import { instantSchema } from '../query/schema.js';
import { listAlerts, listTransitions, type TransitionRow } from './store.js';

const alertsQuery = z.object({
  state: z.enum(['firing', 'pending', 'active', 'all'], { message: 'must be firing, pending, active (firing + pending) or all' }).default('firing'),
});

const annotationsQuery = z
  .object({
    from: instantSchema,
    to: instantSchema,
    metric: z.string().max(200).optional(),
    severity: z.enum(['warning', 'critical'], { message: 'must be warning or critical' }).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
  })
  .refine((query) => query.from.getTime() <= query.to.getTime(), { message: 'from must not be after to', path: ['from'] });

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new HttpError(400, field ? `${field}: ${issue.message}` : issue.message, field || undefined);
  }
  return parsed.data;
}

const TITLES: Record<string, string> = { pending: 'pending', firing: 'firing', resolved: 'resolved', normal: 'back to normal' };

/** A transition as a Grafana annotation: firing ones span until they resolved. */
export function toAnnotation(row: TransitionRow) {
  const time = row.at.getTime();
  return {
    time,
    timeEnd: row.endAt ? row.endAt.getTime() : time,
    title: `${row.metric} ${TITLES[row.to] ?? row.to} (${row.severity})`,
    text: row.recommendation ? `${row.message} ${row.recommendation}` : row.message,
    tags: [row.severity, `rule:${row.rule}`, `metric:${row.metric}`, `state:${row.to}`, ...Object.entries(row.labels).map(([name, value]) => `${name}:${value}`)],
    metric: row.metric,
    severity: row.severity,
    rule: row.rule,
    state: row.to,
    labels: row.labels,
    value: row.value,
    expected: row.expected,
  };
}

export function anomaliesRouter(pool: Pool): Router {
  const router = Router();
  router.get('/alerts', async (req, res) => {
    const { state } = parse(alertsQuery, req.query);
    const states = state === 'all' ? (['firing', 'pending', 'normal'] as const) : state === 'active' ? (['firing', 'pending'] as const) : ([state] as const);
    res.json({ alerts: await listAlerts(pool, principalOf(req).organizationId, [...states]) });
  });
  router.get('/annotations', async (req, res) => {
    const query = parse(annotationsQuery, req.query);
    const rows = await listTransitions(pool, principalOf(req).organizationId, { from: query.from, to: query.to }, { metric: query.metric, severity: query.severity, limit: query.limit });
    res.json(rows.map(toAnnotation));
  });
  return router;
}
