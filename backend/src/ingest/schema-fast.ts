import type { PerEventLimits } from './limits.js';

/**
 * Plain-code twins of the event contract's checks, for the fast path of
 * parseEvent (schema.ts): a well-formed event is accepted by one walk of its
 * fields, without zod's per-field allocations (about 6 us of Node per event,
 * bench/README.md, issue 20, step 21). Every function here only ever says
 * "this passes"; anything it cannot vouch for goes to the zod schema, which
 * also writes every error message. backend/test/ingest-fast-path.test.ts
 * compares both paths on seeded random valid and invalid events.
 */

/** True when the zod rule it mirrors accepts the value. */
export type FastCheck = (value: unknown) => boolean;

/** z.enum(values). */
export const fastOneOf = (values: readonly string[]): FastCheck => {
  const allowed: ReadonlySet<unknown> = new Set(values);
  return (value) => allowed.has(value);
};

/** z.string().trim().min(1).max(max): the length after trimming. */
export const fastTrimmedId =
  (max: number): FastCheck =>
  (value) => {
    if (typeof value !== 'string') return false;
    const length = value.trim().length;
    return length >= 1 && length <= max;
  };

/** z.string(), with .min(min).max(max) when given. */
export const fastString =
  (min = 0, max = Number.POSITIVE_INFINITY): FastCheck =>
  (value) =>
    typeof value === 'string' && value.length >= min && value.length <= max;

export const fastBoolean: FastCheck = (value) => typeof value === 'boolean';

/** z.number().min(min).max(max): finite bounds also rule out NaN and the infinities, as z.number() does. */
export const fastNumber =
  (min: number, max: number): FastCheck =>
  (value) =>
    typeof value === 'number' && value >= min && value <= max;

/** z.number().int().min(min).max(max). */
export const fastInt =
  (min: number, max: number): FastCheck =>
  (value) =>
    Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;

/** .optional(): absent or undefined passes. */
export const fastOptional =
  (check: FastCheck): FastCheck =>
  (value) =>
    value === undefined || check(value);

/** z.looseObject(shape) on an attribute map: every field of the shape passes; other keys are free. */
export function fastShape(shape: Record<string, FastCheck>): (attributes: Record<string, unknown>) => boolean {
  const fields = Object.entries(shape);
  return (attributes) => {
    for (const [key, check] of fields) if (!check(attributes[key])) return false;
    return true;
  };
}

// In a /u pattern a surrogate range matches only surrogates that are not part of a pair.
export const UNSTORABLE = /[\u0000\uD800-\uDFFF]/u;

/** Deeper attribute trees are refused: they are not business data, and very deep ones exhaust parsers' stacks. */
export const MAX_ATTRIBUTE_DEPTH = 16;

/**
 * The most bytes one number can take in JSON ("-1.2345678901234567e-300" is 24), and one UTF-16 code unit of a
 * string: a \u escape with its four hex digits is 6, a character is at most 3 bytes of UTF-8 (4 for a pair of code
 * units).
 */
const NUMBER_BYTES = 32;
const BYTES_PER_CODE_UNIT = 6;

const isPlainObject = (value: object) => Object.getPrototypeOf(value) === Object.prototype;
const isPlainArray = (value: object) => Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype;

/**
 * An upper bound of the JSON bytes of a value that holds only strings, finite or other numbers, booleans, null and
 * plain objects and arrays no deeper than MAX_ATTRIBUTE_DEPTH; -1 for anything else (undefined, functions, class
 * instances, toJSON, bigint, holes). Used for the parts of an event whose contents no rule looks at.
 */
export function jsonBytesBound(value: unknown): number {
  return walk(value, undefined, 0);
}

/**
 * One walk of an attribute tree for everything the per-event limits (limits.ts), the depth limit and the storable
 * check (schema.ts) look at: every key at most maxKeyLength and not `__proto__`, every string at most
 * maxStringLength, no NUL or unpaired surrogate in a key or a string, no object deeper than MAX_ATTRIBUTE_DEPTH,
 * only JSON values. Returns an upper bound of the tree's JSON bytes, or -1 when any of that fails or is not plain
 * JSON (the zod path then says why, or accepts it).
 */
export function walkAttributes(value: unknown, limits: PerEventLimits): number {
  return walk(value, limits, 0);
}

/** jsonBytesBound's walk; with `limits`, also walkAttributes' checks of keys and strings. */
function walk(value: unknown, limits: PerEventLimits | undefined, depth: number): number {
  switch (typeof value) {
    case 'string':
      if (limits && (value.length > limits.maxStringLength || UNSTORABLE.test(value))) return -1;
      return 2 + BYTES_PER_CODE_UNIT * value.length;
    case 'number':
      return NUMBER_BYTES;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth >= MAX_ATTRIBUTE_DEPTH) return -1;
      let bytes = 2;
      if (isPlainArray(value)) {
        const array = value as unknown[];
        // Index keys count as keys (limits.ts walks Object.keys): the longest is the last index.
        if (limits && array.length > 0 && String(array.length - 1).length > limits.maxKeyLength) return -1;
        if (Object.keys(array).length !== array.length) return -1;
        for (let index = 0; index < array.length; index += 1) {
          if (!(index in array)) return -1;
          const item = walk(array[index], limits, depth + 1);
          if (item < 0) return -1;
          bytes += item + 1;
        }
        return bytes;
      }
      if (!isPlainObject(value)) return -1;
      for (const key in value) {
        if (limits && (key === '__proto__' || key.length > limits.maxKeyLength || UNSTORABLE.test(key))) return -1;
        const item = walk((value as Record<string, unknown>)[key], limits, depth + 1);
        if (item < 0) return -1;
        bytes += 4 + BYTES_PER_CODE_UNIT * key.length + item;
      }
      return bytes;
    }
    default:
      return -1;
  }
}

const MS_PER_DIGIT = [100, 10, 1];
const DAYS_BEFORE_MONTH = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const digits = (text: string, start: number, count: number): number => {
  let value = 0;
  for (let index = start; index < start + count; index += 1) value = value * 10 + text.charCodeAt(index) - 48;
  return value;
};

/** Days from 1970-01-01 to the first of January of `year` (proleptic Gregorian, any year). */
function daysToYear(year: number): number {
  const y = year - 1;
  return 365 * (year - 1970) + (Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400)) - 477;
}

/**
 * Date.parse of a string that zod's `z.iso.datetime({ offset: true })` pattern accepted
 * (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, a valid calendar date): the same milliseconds, fraction truncated
 * to them as Date.parse does, in a fraction of its time.
 */
export function isoTimeMs(text: string): number {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = daysToYear(year) + DAYS_BEFORE_MONTH[month - 1]! + (leap && month > 2 ? 1 : 0) + day - 1;
  let ms = days * 86_400_000 + digits(text, 11, 2) * 3_600_000 + digits(text, 14, 2) * 60_000 + digits(text, 17, 2) * 1000;
  let index = 19;
  if (text.charCodeAt(index) === 46 /* . */) {
    // Milliseconds are the first three digits; Date.parse drops the rest.
    const first = (index += 1);
    for (let ch = text.charCodeAt(index); ch >= 48 && ch <= 57; ch = text.charCodeAt(++index)) {
      if (index - first < 3) ms += (ch - 48) * MS_PER_DIGIT[index - first]!;
    }
  }
  const sign = text.charCodeAt(index);
  if (sign === 43 /* + */ || sign === 45 /* - */) {
    const offset = digits(text, index + 1, 2) * 3_600_000 + digits(text, index + 4, 2) * 60_000;
    ms += sign === 43 ? -offset : offset;
  }
  return ms;
}
