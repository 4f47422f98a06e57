import { canonicalJson } from '../cache/query-cache.js';
import type { Catalog } from '../catalog/load.js';
import type { CatalogMetric } from '../catalog/schema.js';
import { alignDown, HOUR_MS, previousShiftMs } from './buckets.js';
import { markCached, type Frame } from './frames.js';
import type { Plan } from './planner.js';

/**
 * Whole answers kept serialized: a query's frames as the JSON the answer
 * writer sends, so a cache hit is one Redis read and one write to the socket
 * instead of parsing the source's series and framing them again (for a
 * grouped hourly answer of 3,000+ points that took several milliseconds).
 *
 * Stored as "<series>\n<frames JSON>": the series count is what the answer
 * budget reserves for it, as the source's own count was on the cold answer.
 */

/**
 * Answers that depend only on the plan and the data: not a level (read live),
 * and a band only over a range that has ended (a band judges the bucket still
 * open at now as partial, so one reaching past now changes with the clock).
 */
export function isStorable(plan: Plan, catalog: Catalog, now: number): boolean {
  if (plan.metric.level) return false;
  if ((plan.band || plan.bandField) && plan.to.getTime() > now) return false;
  if (plan.metric.kind !== 'ratio') return true;
  // A ratio's parts are cached under their own sources' versions; stored whole only when that is this one.
  return [plan.metric.numerator, plan.metric.denominator].every((key) => key !== undefined && catalog.metric(key)?.source === plan.metric.source);
}

/**
 * What a stored answer is keyed by: the whole plan (the metric by key and
 * definition) under the catalog's version, its range as the answer sees it
 * (`rangeKey`).
 */
export function answerQuestion(plan: Plan, catalog: Catalog, catalogVersion: string | undefined): unknown {
  const { metric, from, to, batch: _batch, ...rest } = plan;
  return { catalog: catalogVersion, answer: metric.key, definition: definitionOf(metric), ...rest, ...rangeKey(plan, catalog) };
}

const definitions = new WeakMap<CatalogMetric, string>();

/**
 * A metric's definition (its source query) as it goes into cache keys:
 * serialized once per catalog metric, not on every question (key order
 * sorted, as every key's JSON is).
 */
export function definitionOf(metric: CatalogMetric): string {
  let text = definitions.get(metric);
  if (text === undefined) definitions.set(metric, (text = canonicalJson(metric.query)));
  return text;
}

/** A time as the hourly rollups see it: a whole hour as itself, any other time as inside its hour ("<hour>+"). */
function hourOf(time: number): string {
  const hour = alignDown(time, HOUR_MS);
  return hour === time ? String(time) : `${hour}+`;
}

/**
 * The range of a plan as its answer depends on it. An answer of the events
 * source is read from rollup rows that count whole (an hour cannot be split),
 * and its buckets are whole hours or days: every time inside one hour reads
 * the same rows and gives the same buckets, so `now-7d` to `now` asked again
 * within the hour is the same answer (a cache hit; the open hour is as live
 * as before: any accepted event moves the cache version). What else the
 * exact times shape is kept: a KPI's previous period starts at from minus
 * the exact span, a previous period is shifted by the span in whole buckets.
 * Every other answer (other sources, rolling windows from raw events, lists,
 * bands judged against the clock) is keyed by its exact range.
 */
export function rangeKey(plan: Plan, catalog: Catalog): Record<string, unknown> {
  const exact = { from: plan.from, to: plan.to };
  if (catalog.source(plan.metric.source)?.type !== 'events' || plan.rolling || plan.list || plan.band || plan.bandField) return exact;
  const [from, to] = [plan.from.getTime(), plan.to.getTime()];
  return {
    from: hourOf(from),
    to: hourOf(to),
    ...(plan.format === 'kpi' && { previousFrom: hourOf(from - (to - from)) }),
    ...(plan.compareToPrevious && { shift: previousShiftMs(from, to, plan.bucketMs, false) }),
  };
}

/**
 * The text stored for an answer, from its frames' JSON as the response sent
 * it: marked as cached, since that is how it will be served. Serialized
 * once, so the mark is set in the text: the key "cached" occurs only in each
 * frame's meta.custom, and a string value cannot hold `"cached":false` (its
 * quotes would be escaped).
 */
export function encodeAnswer(framesJson: string, series: number): string {
  return encodeMarkedAnswer(markCached(framesJson), series);
}

/** encodeAnswer's text from frames' JSON already marked as cached (framesToJsonTwice's `marked`). */
export function encodeMarkedAnswer(markedJson: string, series: number): string {
  return `${series}\n${markedJson}`;
}

export interface DecodedAnswer {
  series: number;
  /** The frames' JSON array, written to the response as it is. */
  framesJson: string;
}

export function decodeAnswer(text: string): DecodedAnswer | undefined {
  const newline = text.indexOf('\n');
  const series = Number(text.slice(0, newline));
  if (newline < 0 || !Number.isInteger(series) || text[newline + 1] !== '[') return undefined;
  return { series, framesJson: text.slice(newline + 1) };
}

