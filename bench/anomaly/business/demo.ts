/**
 * The demo generator's own data: 90 days of two organizations (backend/src/demo) with the
 * incidents it records, bucketed per hour as the rollups hold them. Any catalog metric of the
 * events source is built from its catalog definition (event types, measure, filter, ratio
 * parts); module metrics from the demo rows their SQL reads.
 */
import type { Catalog } from '../../../backend/src/catalog/load.js';
import type { CatalogMetric } from '../../../backend/src/catalog/schema.js';
import { emptyRows, generateHour, type DemoEvent, type ModuleRows, type OrganizationPlan } from '../../../backend/src/demo/generate.js';
import { planIncidents } from '../../../backend/src/demo/incidents.js';
import { DERIVED } from '../../../backend/src/ingest/derived/types.js';
import { Random } from '../../../backend/src/demo/random.js';
import { addFact, DAY, emptyBucket, HOUR, type Bucket, type MetricSeries } from './series.js';

/** Mirrors the organizations of backend/src/demo/run.ts (same scale, shift and seed rule). */
const ORGANIZATIONS = [
  { name: 'acme-demo', slug: 'acme', scale: 1, shiftDays: 0 },
  { name: 'globex-demo', slug: 'globex', scale: 0.55, shiftDays: 3 },
];
const SEED = 42;
const DAYS = 90;
/** A fixed end, so every run generates the same data. */
const NOW = Date.UTC(2026, 2, 1);

/** One fact of a module table as the metric's SQL returns it: time, value and dimensions. */
interface Fact {
  time: number;
  value: number;
  labels: Record<string, unknown>;
}

/**
 * What the SQL of each module metric selects from the demo rows. A module metric missing here
 * is reported as not measured on the demo data (add its rows here when adding the metric).
 */
const MODULE_FACTS: Record<string, (rows: ModuleRows) => Fact[]> = {
  revenue: (rows) => rows.transactions.filter((r) => r[2] === 'income').map(([, at, , category, account, amount]) => ({ time: at.getTime(), value: amount, labels: { category, account } })),
  expenses: (rows) => rows.transactions.filter((r) => r[2] === 'expense').map(([, at, , category, account, amount]) => ({ time: at.getTime(), value: amount, labels: { category, account } })),
  billable_hours: (rows) => rows.time_entries.filter((r) => r[3]).map(([, at, hours, , project, employee]) => ({ time: at.getTime(), value: hours, labels: { project, employee } })),
  average_rating: (rows) => rows.reviews.map(([, at, rating, platform, location]) => ({ time: at.getTime(), value: rating, labels: { platform, location } })),
};

interface OrganizationData {
  plan: OrganizationPlan;
  events: DemoEvent[];
  rows: ModuleRows;
  hours: number[];
}

let cache: OrganizationData[] | undefined;

/** Both organizations' 90 days, generated once per run. */
function organizations(): OrganizationData[] {
  if (cache) return cache;
  const rangeStart = Math.floor((NOW - DAYS * DAY) / HOUR) * HOUR;
  cache = ORGANIZATIONS.map((organization, position) => {
    const plan: OrganizationPlan = { name: organization.name, slug: organization.slug, scale: organization.scale, incidents: planIncidents(organization.name, rangeStart, NOW, organization.shiftDays) };
    const random = new Random(SEED * 1000 + position);
    const events: DemoEvent[] = [];
    const rows = emptyRows();
    const hours: number[] = [];
    for (let index = 0; index < Math.ceil((NOW - rangeStart) / HOUR); index++) {
      const hourStart = rangeStart + index * HOUR;
      hours.push(hourStart);
      generateHour({ plan, random, hourStart, rangeStart, now: NOW, index }, events, rows);
    }
    return { plan, events, rows, hours };
  });
  return cache;
}

interface EventsQuery {
  eventTypes: string[];
  measure: 'count' | 'value';
  where?: Record<string, string[]>;
}

/**
 * Derived rollup types (backend/src/ingest/derived) whose value is one numeric attribute of an
 * event, as ingestion writes them: the derived type, the event type it is read from and the
 * attribute. Other derived types (levels, availability hours) need ingestion's state and are
 * not built here.
 */
const ATTRIBUTE_VALUED: Record<string, { eventType: string; attribute: string }> = {
  [DERIVED.conversationSatisfaction]: { eventType: 'conversation.status_changed', attribute: 'satisfaction' },
  [DERIVED.botConversationSatisfaction]: { eventType: 'bot.conversation_ended', attribute: 'satisfaction' },
  [DERIVED.botTokens]: { eventType: 'bot.response', attribute: 'tokens' },
  [DERIVED.botCost]: { eventType: 'bot.response', attribute: 'cost' },
};

/** The fact one event contributes to a metric's event type (its own, or an attribute-valued derived type). */
function factOf(type: string, event: DemoEvent, measure: EventsQuery['measure']): Fact | null {
  const time = Date.parse(event.occurredAt);
  if (type === event.type) return { time, value: measure === 'count' ? 1 : (event.value ?? 0), labels: event.attributes };
  const derived = ATTRIBUTE_VALUED[type];
  const value = derived && derived.eventType === event.type ? event.attributes[derived.attribute] : undefined;
  return typeof value === 'number' ? { time, value: measure === 'count' ? 1 : value, labels: event.attributes } : null;
}

/** Facts of an events-source metric, from its catalog query. */
function eventFacts(metric: CatalogMetric, events: DemoEvent[]): Fact[] {
  const query = metric.query as unknown as EventsQuery;
  const matches = (e: DemoEvent) => Object.entries(query.where ?? {}).every(([dimension, allowed]) => allowed.includes(String(e.attributes[dimension])));
  return events.filter(matches).flatMap((e) => query.eventTypes.map((type) => factOf(type, e, query.measure)).filter((fact): fact is Fact => fact !== null));
}

function factsOf(catalog: Catalog, metric: CatalogMetric, data: OrganizationData): Fact[] | null {
  if (metric.source === 'events' && metric.kind !== 'ratio') return eventFacts(metric, data.events);
  return MODULE_FACTS[metric.key]?.(data.rows) ?? null;
}

const groupKey = (labels: Record<string, unknown>, groupBy: string[]) => groupBy.map((d) => `${d}=${String(labels[d] ?? '')}`).join(', ');

/** Hourly buckets per group of `groupBy`, every hour of the range present (empty hours too). */
function bucketed(hours: number[], facts: Fact[], groupBy: string[], keepValues: boolean): Map<string, Map<number, Bucket>> {
  const groups = new Map<string, Map<number, Bucket>>();
  const group = (key: string) => {
    let buckets = groups.get(key);
    if (!buckets) {
      buckets = new Map(hours.map((h) => [h, emptyBucket(h)]));
      groups.set(key, buckets);
    }
    return buckets;
  };
  if (groupBy.length === 0) group('');
  for (const fact of facts) {
    const bucket = group(groupKey(fact.labels, groupBy)).get(Math.floor(fact.time / HOUR) * HOUR);
    if (bucket) addFact(bucket, fact.value, keepValues);
  }
  return groups;
}

/**
 * The series of one catalog metric on the demo data, one per organization and group, with the
 * organization's incidents that the demo records for this metric. Null when the demo data has no
 * way to compute the metric.
 */
export function demoSeries(catalog: Catalog, metric: CatalogMetric, groupBy: string[]): MetricSeries[] | null {
  const out: MetricSeries[] = [];
  for (const data of organizations()) {
    let groups: Map<string, Map<number, Bucket>>;
    if (metric.kind === 'ratio') {
      const numerator = catalog.metric(metric.numerator!)!;
      const denominator = catalog.metric(metric.denominator!)!;
      const [num, den] = [factsOf(catalog, numerator, data), factsOf(catalog, denominator, data)];
      if (!num || !den) return null;
      const nums = bucketed(data.hours, num, groupBy, false);
      groups = bucketed(data.hours, den, groupBy, false);
      for (const [key, buckets] of groups) {
        for (const b of buckets.values()) {
          b.denominator = b.sum;
          b.numerator = nums.get(key)?.get(b.time)?.sum ?? 0;
        }
      }
    } else {
      const facts = factsOf(catalog, metric, data);
      if (!facts) return null;
      groups = bucketed(data.hours, facts, groupBy, metric.kind === 'distribution' || metric.defaultAggregation.startsWith('p'));
    }
    const incidents = data.plan.incidents
      .filter((i) => i.metrics.includes(metric.key))
      .map((i) => ({ shape: i.kind.endsWith('drop') ? ('drop' as const) : ('spike' as const), start: Date.parse(i.start), end: Date.parse(i.end) }));
    for (const [key, buckets] of groups) {
      out.push({ metric: metric.key, name: `${data.plan.name} ${metric.key}${key ? ` {${key}}` : ''}`, stepMs: HOUR, buckets: [...buckets.values()], incidents });
    }
  }
  return out;
}
