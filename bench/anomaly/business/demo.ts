/**
 * The seeds' cases on the demo generator's own data: 90 days of two organizations with the
 * incidents it records (backend/src/demo), aggregated the way the rollups would (hourly rates,
 * daily sums and averages), and judged with the rules the catalog would ship for each metric.
 */
import { emptyRows, generateHour, type DemoEvent, type OrganizationPlan } from '../../../backend/src/demo/generate.js';
import { planIncidents, type Incident as DemoIncident, type IncidentKind } from '../../../backend/src/demo/incidents.js';
import { Random } from '../../../backend/src/demo/random.js';
import { DAY, HOUR, type Incident, type Rule, type Sample, type Scenario } from './evaluate.js';

/** Mirrors the organizations of backend/src/demo/run.ts (same scale, shift and seed rule). */
const ORGANIZATIONS = [
  { name: 'acme-demo', slug: 'acme', scale: 1, shiftDays: 0 },
  { name: 'globex-demo', slug: 'globex', scale: 0.55, shiftDays: 3 },
];
const SEED = 42;
const DAYS = 90;
/** A fixed end, so every run generates the same data. */
const NOW = Date.UTC(2026, 2, 1);

interface Buckets {
  hourly: Map<number, Record<string, number>>;
  daily: Map<number, Record<string, number>>;
}

function add(map: Map<number, Record<string, number>>, key: number, field: string, amount: number): void {
  const entry = map.get(key) ?? {};
  entry[field] = (entry[field] ?? 0) + amount;
  map.set(key, entry);
}

/** One organization's 90 days, summed per hour and per day as the rollups would hold them. */
function generate(position: number, plan: OrganizationPlan, rangeStart: number): Buckets {
  const random = new Random(SEED * 1000 + position);
  const buckets: Buckets = { hourly: new Map(), daily: new Map() };
  const hours = Math.ceil((NOW - rangeStart) / HOUR);
  for (let index = 0; index < hours; index++) {
    const hourStart = rangeStart + index * HOUR;
    const events: DemoEvent[] = [];
    const rows = emptyRows();
    generateHour({ plan, random, hourStart, rangeStart, now: NOW, index }, events, rows);
    const day = Math.floor(hourStart / DAY) * DAY;
    add(buckets.hourly, hourStart, 'runs', 0);
    add(buckets.hourly, hourStart, 'sent', 0);
    for (const e of events) {
      if (e.type === 'workflow.finished') {
        add(buckets.hourly, hourStart, 'runs', 1);
        if (e.attributes.status !== 'SUCCESS') add(buckets.hourly, hourStart, 'failed', 1);
      } else if (e.type === 'message.sent') add(buckets.hourly, hourStart, 'sent', 1);
      else if (e.type === 'message.delivered') add(buckets.hourly, hourStart, 'delivered', 1);
    }
    add(buckets.daily, day, 'revenue', 0);
    add(buckets.daily, day, 'billable', 0);
    for (const [, , kind, , , amount] of rows.transactions) if (kind === 'income') add(buckets.daily, day, 'revenue', amount);
    for (const [, , hoursLogged, billable] of rows.time_entries) if (billable) add(buckets.daily, day, 'billable', hoursLogged);
    for (const [, , rating] of rows.reviews) {
      add(buckets.daily, day, 'ratingSum', rating);
      add(buckets.daily, day, 'reviews', 1);
    }
  }
  return buckets;
}

function series(map: Map<number, Record<string, number>>, value: (b: Record<string, number>) => Sample['value'], parts?: [string, string]): Sample[] {
  return [...map.entries()]
    .sort(([a], [b]) => a - b)
    .map(([time, b]) => ({ time, value: value(b), ...(parts && { numerator: b[parts[0]] ?? 0, denominator: b[parts[1]] ?? 0 }) }));
}

/** The recorded incident as an index range of a series: it must be caught while it lasts. */
function window(samples: Sample[], incident: DemoIncident, shape: Incident['shape']): Incident {
  const start = samples.findIndex((s) => s.time >= Date.parse(incident.start));
  const end = samples.findIndex((s) => s.time >= Date.parse(incident.end));
  return { shape, start, end: (end < 0 ? samples.length : end) - 1 };
}

// Scored incidents; those of conversations, agents, bots and contacts (issue 16) are not scored here.
const RULES: Partial<Record<IncidentKind, { metric: string; rules: Rule[]; shape: Incident['shape']; build: (b: Buckets) => Sample[] }>> = {
  workflow_failure_spike: {
    metric: 'workflow_failure_rate (hourly)',
    shape: 'spike',
    // Rate over the last 6 hours; the Wilson interval (evaluateRatio's default) absorbs small volumes.
    rules: [{ type: 'ratio', rule: { direction: 'above', warning: 0.15, critical: 0.3, hysteresis: 0.05, minDenominator: 12 }, windowPoints: 6 }],
    build: (b) => series(b.hourly, (h) => (h.runs ? (h.failed ?? 0) / h.runs : 0), ['failed', 'runs']),
  },
  delivery_rate_drop: {
    metric: 'delivery_rate (hourly)',
    shape: 'drop',
    rules: [{ type: 'ratio', rule: { direction: 'below', warning: 0.85, critical: 0.7, hysteresis: 0.03, minDenominator: 10 }, windowPoints: 6 }],
    build: (b) => series(b.hourly, (h) => (h.sent ? (h.delivered ?? 0) / h.sent : 0), ['delivered', 'sent']),
  },
  revenue_spike: {
    metric: 'revenue (daily)',
    shape: 'spike',
    rules: [{ type: 'baseline', options: { direction: 'above', transform: 'sqrt' } }],
    build: (b) => series(b.daily, (d) => d.revenue ?? 0),
  },
  billable_hours_drop: {
    metric: 'billable_hours (daily)',
    shape: 'drop',
    rules: [{ type: 'baseline', options: { direction: 'below', minVolume: 5 } }],
    build: (b) => series(b.daily, (d) => d.billable ?? 0),
  },
  rating_drop: {
    metric: 'average_rating (daily)',
    shape: 'drop',
    // Average of the last 7 days' reviews (rating sum / review count), once there are 3.
    rules: [{ type: 'ratio', rule: { direction: 'below', warning: 3.5, critical: 3.0, hysteresis: 0.2, minDenominator: 3 }, windowPoints: 7 }],
    build: (b) => series(b.daily, (d) => (d.reviews ? (d.ratingSum ?? 0) / d.reviews : 0), ['ratingSum', 'reviews']),
  },
};

export function demoScenarios(): Array<Scenario & { metric: string }> {
  const rangeStart = Math.floor((NOW - DAYS * DAY) / HOUR) * HOUR;
  const out: Array<Scenario & { metric: string }> = [];
  ORGANIZATIONS.forEach((organization, position) => {
    const plan: OrganizationPlan = { name: organization.name, slug: organization.slug, scale: organization.scale, incidents: planIncidents(organization.name, rangeStart, NOW, organization.shiftDays) };
    const buckets = generate(position, plan, rangeStart);
    for (const [kind, spec] of Object.entries(RULES) as Array<[IncidentKind, NonNullable<(typeof RULES)[IncidentKind]>]>) {
      const samples = spec.build(buckets);
      const incidents = plan.incidents.filter((i) => i.kind === kind).map((i) => window(samples, i, spec.shape));
      out.push({ name: `${organization.name} ${spec.metric}`, metric: spec.metric, samples, incidents, rules: spec.rules });
    }
  });
  return out;
}
