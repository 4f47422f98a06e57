import type { BinCounts, DimensionDelta, RollupDelta } from './aggregate.js';
import type { ValidEvent } from './schema.js';

/**
 * The text one batch sends to PostgreSQL (store.ts: raw events as a JSON array; rollup, totals and per-dimension rows
 * as column arrays), written directly: no object per row to hand to JSON.stringify, the dims JSON aggregate() already
 * built spliced in, and times formatted without a Date (bench/README.md, issue 20, steps 21 and 26). Tests:
 * backend/test/ingest-batch-json.test.ts (the same values as the objects store.ts built before, read back by
 * PostgreSQL on seeded random rows).
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
 * The rows of several kinds of rollup or totals deltas (the index of each row's kind in `kinds` is its `target`), as
 * the parameters of the batch's last statement (store.ts), each the text of one literal: the scalar columns as
 * arrays, which PostgreSQL reads element by element with each type's own input function, and every row's dims and
 * sketch as one JSON array each, parsed once, from which each row takes its element. As one JSON array of row
 * objects (before, issue 20, step 26) every number went through PostgreSQL's numeric and back to text before its
 * column's type read it, and every key name was lexed and sorted per row.
 * Order: target int4[], event_type text[], bucket timestamptz[], count int8[], value_count int8[], sum float8[],
 * min float8[], max float8[], dims (JSON array), sketches (JSON array; null for a row without values).
 */
export function rollupColumns(kinds: ReadonlyArray<readonly RollupDelta[]>): string[] {
  const target: string[] = [], type: string[] = [], bucket: string[] = [], count: string[] = [], valueCount: string[] = [];
  const sum: string[] = [], min: string[] = [], max: string[] = [], dims: string[] = [], sketches: string[] = [];
  kinds.forEach((rows, kind) => {
    for (const row of rows) {
      target.push(String(kind));
      type.push(textElement(row.type));
      bucket.push(isoTime(row.bucketMs));
      count.push(String(row.count));
      valueCount.push(String(row.valueCount));
      sum.push(floatElement(row.sum));
      min.push(nullableFloat(row.min));
      max.push(nullableFloat(row.max));
      dims.push(row.dims);
      sketches.push(binsJson(row.sketch));
    }
  });
  return [...[target, type, bucket, count, valueCount, sum, min, max].map(arrayLiteral), jsonArray(dims), jsonArray(sketches)];
}

/**
 * Per-dimension rows as parameters, as rollupColumns(): event_type text[], bucket timestamptz[], dimension text[],
 * value text[], count int8[], value_count int8[], sum float8[], min float8[], max float8[], sketches (JSON array).
 */
export function dimensionColumns(rows: readonly DimensionDelta[]): string[] {
  const type: string[] = [], bucket: string[] = [], dimension: string[] = [], value: string[] = [], count: string[] = [];
  const valueCount: string[] = [], sum: string[] = [], min: string[] = [], max: string[] = [], sketches: string[] = [];
  for (const row of rows) {
    type.push(textElement(row.type));
    bucket.push(isoTime(row.bucketMs));
    dimension.push(textElement(row.dimension));
    value.push(textElement(row.value));
    count.push(String(row.count));
    valueCount.push(String(row.valueCount));
    sum.push(floatElement(row.sum));
    min.push(nullableFloat(row.min));
    max.push(nullableFloat(row.max));
    sketches.push(binsJson(row.sketch));
  }
  return [...[type, bucket, dimension, value, count, valueCount, sum, min, max].map(arrayLiteral), jsonArray(sketches)];
}

const arrayLiteral = (elements: string[]): string => `{${elements.join(',')}}`;
const jsonArray = (elements: string[]): string => `[${elements.join(',')}]`;

/** Strings an array literal takes as they are, quoted: types, dimension names and values nearly always. */
const PLAIN_ELEMENT = /^[^"\\]*$/;
/** A string as an array element: quoted, with the two characters an array literal escapes escaped. */
const textElement = (text: string): string => (PLAIN_ELEMENT.test(text) ? `"${text}"` : `"${text.replace(/["\\]/g, '\\$&')}"`);
/** A double as an array element, as the JSON before had it: a non-finite sum was null there. */
const floatElement = (value: number): string => (Number.isFinite(value) ? String(value) : 'NULL');
const nullableFloat = (value: number | null): string => (value === null ? 'NULL' : floatElement(value));
