import { z } from 'zod';
import { CatalogError, problemAt, type Catalog, type CatalogProblem } from '../catalog/load.js';
import type { CatalogMetric } from '../catalog/schema.js';
import { validateChangeRule, validateThresholdRule } from './detectors/index.js';

/** "90s", "10m", "1h", "7d" -> milliseconds. */
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d|w)$/, 'must be a duration such as 30s, 10m, 1h, 1d or 1w')
  .transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h|d|w)$/.exec(text)!;
    const scale = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[unit as 'ms'];
    return Number(amount) * scale;
  });

const common = {
  id: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower_snake_case'),
  /** Wait this long in breach before firing (pending meanwhile). */
  for: duration.default(0),
  /** Keep firing until the value has been clear this long: no flapping around a bound. */
  keepFiringFor: duration.default(5 * 60_000),
  /** Split the metric into one alert series per value of these dimensions. */
  groupBy: z.array(z.string()).default([]),
  /** The rule's own advice; {since}, {label}, {observed}, {expected}, {bound} are filled in. */
  recommendation: z.string().optional(),
  summary: z.string().optional(),
};

export const thresholdRuleSchema = z
  .object({
    ...common,
    type: z.literal('threshold'),
    direction: z.enum(['above', 'below']),
    warning: z.number().optional(),
    critical: z.number().optional(),
    hysteresis: z.number().min(0).optional(),
    /** The value judged is the metric over the complete hours of this trailing window (the partial current hour waits). */
    window: duration.default(3_600_000),
    /**
     * Ratio metrics: below this many in the denominator the rule stays healthy (2 of 3 failing is
     * no trend). Distribution metrics: below this many values (a p95 of two responses is no trend).
     */
    minVolume: z.number().min(0).default(0),
    /**
     * Ratio metrics: judge the edge of the rate's Wilson interval at this z
     * (1.96 = 95 %) nearest to normal instead of the raw rate, so a few
     * unlucky runs need more evidence than many. 0 (default) judges the raw rate.
     */
    confidence: z.number().min(0).max(5).default(0),
  })
  .strict();

export const changeRuleSchema = z
  .object({
    ...common,
    type: z.literal('change'),
    direction: z.enum(['above', 'below', 'both']),
    warningPercent: z.number().positive().optional(),
    criticalPercent: z.number().positive().optional(),
    /** The previous period must hold at least this much for a percentage to mean anything. */
    minVolume: z.number().min(0).default(0),
    /** Current window vs the window of equal length before it. */
    window: duration.default(86_400_000),
  })
  .strict();

export const baselineRuleSchema = z
  .object({
    ...common,
    type: z.literal('baseline'),
    direction: z.enum(['above', 'below', 'both']).default('both'),
    /** Same hour of week over the last N weeks. */
    seasons: z.number().int().min(1).max(12).default(4),
    warningZ: z.number().positive().default(4),
    criticalZ: z.number().positive().default(6),
    minVolume: z.number().min(0).default(0),
    /** `sqrt` judges counts and amounts on a square-root scale, where a quiet night is as noisy as a busy noon. */
    transform: z.enum(['none', 'sqrt']).default('none'),
    /** Bucket judged: hourly by default, the last complete one. */
    bucket: duration.default(3_600_000),
    /** Also judge runs of up to this many consecutive buckets on the same side together (1: single buckets only). */
    runBuckets: z.number().int().min(1).max(6).default(1),
  })
  .strict();

export const ruleSchema = z.discriminatedUnion('type', [thresholdRuleSchema, changeRuleSchema, baselineRuleSchema]);
export type Rule = z.infer<typeof ruleSchema>;
export type ThresholdRuleConfig = z.infer<typeof thresholdRuleSchema>;
export type ChangeRuleConfig = z.infer<typeof changeRuleSchema>;
export type BaselineRuleConfig = z.infer<typeof baselineRuleSchema>;

export interface MetricRule {
  metric: CatalogMetric;
  rule: Rule;
}

/**
 * Parses every metric's rules, checking what the schema cannot: unique ids,
 * group-by dimensions declared on the metric, ordered bounds. Errors name the
 * catalog file and the path of the rule.
 */
export function loadRules(catalog: Catalog): MetricRule[] {
  const problems: CatalogProblem[] = [];
  const rules: MetricRule[] = [];
  const ids = new Set<string>();
  catalog.metrics.forEach((metric) => {
    const metricIndex = catalog.metrics.indexOf(metric);
    metric.rules.forEach((raw, ruleIndex) => {
      const at = (...rest: PropertyKey[]) => ['metrics', metricIndex, 'rules', ruleIndex, ...rest];
      const parsed = ruleSchema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) problems.push(problemAt(catalog, at(...issue.path), issue.message));
        return;
      }
      const rule = parsed.data;
      if (ids.has(rule.id)) problems.push(problemAt(catalog, at('id'), `duplicate rule id '${rule.id}'`));
      ids.add(rule.id);
      const undeclared = rule.groupBy.filter((dimension) => !metric.dimensions.includes(dimension));
      if (undeclared.length) problems.push(problemAt(catalog, at('groupBy'), `dimension(s) ${undeclared.join(', ')} not declared on metric '${metric.key}'`));
      if (rule.type === 'threshold' && rule.confidence > 0 && metric.kind !== 'ratio') {
        problems.push(problemAt(catalog, at('confidence'), `confidence needs a ratio metric; '${metric.key}' is a ${metric.kind}`));
      }
      try {
        if (rule.type === 'threshold') validateThresholdRule(rule);
        if (rule.type === 'change') validateChangeRule(rule);
        if (rule.type === 'baseline' && rule.warningZ > rule.criticalZ) throw new Error('warningZ must not exceed criticalZ');
      } catch (error) {
        problems.push(problemAt(catalog, at(), error instanceof Error ? error.message : String(error)));
      }
      rules.push({ metric, rule });
    });
  });
  if (problems.length > 0) throw new CatalogError(catalog.file, problems);
  return rules;
}
