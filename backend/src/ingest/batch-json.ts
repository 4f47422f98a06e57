import type { BinCounts, DimensionDelta, RollupDelta } from './aggregate.js';
import type { ValidEvent } from './schema.js';

/**
 * The JSON arrays one batch sends to PostgreSQL (store.ts: raw events, rollup and totals deltas, per-dimension
 * rows), written as text directly: no object per row to hand to JSON.stringify, the dims JSON aggregate() already
 * built spliced in, and times formatted without a Date. The same JSON values as JSON.stringify of the objects
 * store.ts built before (backend/test/ingest-batch-json.test.ts parses both on seeded random rows); a batch is
 * about 330 kB of it (bench/README.md, issue 20, step 21).
 */

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));
const DAY_MS = 86_400_000;
/** Times from 1000-01-01 up to 9999-12-31 print with a four-digit year; Date.toISOString does the rest. */
const FAST_FROM = Date.UTC(1000, 0, 1);
const FAST_UNTIL = Date.UTC(10_000, 0, 1);

/** The calendar date of a day count since 1970-01-01, as "YYYY-MM-DD" (Howard Hinnant's civil_from_days). */
function dateOfDay(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shifted = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shifted + 2) / 5) + 1;
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}`;
}

/** The last day formatted: a batch's times fall on a day or two. */
let lastDay = Number.NaN;
let lastDate = '';

/** `new Date(ms).toISOString()`, for whole milliseconds, without a Date and its formatting. */
export function isoTime(ms: number): string {
  if (!(ms >= FAST_FROM && ms < FAST_UNTIL) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  if (days !== lastDay) {
    lastDate = dateOfDay(days);
    lastDay = days;
  }
  let rest = ms - days * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  return `${lastDate}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[rest - seconds * 1000]}Z`;
}

/** A number as JSON.stringify writes it: -0 as 0 (as String does), NaN and the infinities as null. */
const num = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');
const numberOrNull = (value: number | null): string => (value === null ? 'null' : num(value));

/** Strings that need no escaping in JSON are common (types, dimension names and values): quoted as they are. */
const PLAIN = /^[^"\\\u0000-\u001f\u2028\u2029\uD800-\uDFFF]*$/;
const quoted = (text: string): string => (PLAIN.test(text) ? `"${text}"` : JSON.stringify(text));

/** Sketch bins as the JSON object of bin key -> count (keys are digits, "n" and "z": nothing to escape). */
function binsJson(bins: BinCounts | null): string {
  if (bins === null) return 'null';
  let json = '';
  bins.forEach((count, key) => {
    json += `,"${key}":${count}`;
  });
  return json === '' ? '{}' : `{${json.slice(1)}}`;
}

/**
 * The raw rows of `events` (in the order given): `[{"id", "at", "type", "value", "attributes"}, ...]`. Here the
 * objects and JSON.stringify stay: the attribute maps are most of the text, and one native pass over short-lived
 * objects allocated half of what writing the text piece by piece did; the time is what costs (toISOString).
 */
export function eventsJson(events: readonly ValidEvent[]): string {
  return JSON.stringify(events.map((e) => ({ id: e.id, at: isoTime(e.occurredAtMs), type: e.type, value: e.value, attributes: e.attributes })));
}

/**
 * Rollup or totals deltas: `[{"event_type", "bucket", "dims", "count", "value_count", "sum", "min", "max", "sketch"}, ...]`.
 * `dims` is each row's own JSON of its dimensions (aggregate() builds both from one object).
 */
export function rollupDeltasJson(rows: readonly RollupDelta[]): string {
  let json = '[';
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    if (index > 0) json += ',';
    json += `{"event_type":${quoted(row.type)},"bucket":"${isoTime(row.bucketMs)}","dims":${row.dims},"count":${row.count},"value_count":${row.valueCount},"sum":${num(row.sum)},"min":${numberOrNull(row.min)},"max":${numberOrNull(row.max)},"sketch":${binsJson(row.sketch)}}`;
  }
  return `${json}]`;
}

/** Per-dimension rows: `[{"event_type", "bucket", "dimension", "value", "count", "value_count", "sum", "min", "max", "sketch"}, ...]`. */
export function dimensionDeltasJson(rows: readonly DimensionDelta[]): string {
  let json = '[';
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    if (index > 0) json += ',';
    json += `{"event_type":${quoted(row.type)},"bucket":"${isoTime(row.bucketMs)}","dimension":${quoted(row.dimension)},"value":${quoted(row.value)},"count":${row.count},"value_count":${row.valueCount},"sum":${num(row.sum)},"min":${numberOrNull(row.min)},"max":${numberOrNull(row.max)},"sketch":${binsJson(row.sketch)}}`;
  }
  return `${json}]`;
}
