import type { Catalog } from '../catalog/load.js';
import type { Frame } from './frames.js';
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

/** What a stored answer is keyed by: the whole plan (the metric by key and definition) under the catalog's version. */
export function answerQuestion(plan: Plan, catalogVersion: string | undefined): unknown {
  const { metric, ...rest } = plan;
  return { catalog: catalogVersion, answer: metric.key, definition: metric.query, ...rest };
}

/**
 * The text stored for an answer, from its frames' JSON as the response sent
 * it: marked as cached, since that is how it will be served. Serialized
 * once, so the mark is set in the text: the key "cached" occurs only in each
 * frame's meta.custom, and a string value cannot hold `"cached":false` (its
 * quotes would be escaped).
 */
export function encodeAnswer(framesJson: string, series: number): string {
  return `${series}\n${framesJson.replaceAll('"cached":false', '"cached":true')}`;
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

