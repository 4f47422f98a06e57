import type { CatalogMetric } from '../catalog/schema.js';
import type { ListRow, Series } from '../sources/types.js';
import { BAND_FIELDS, type BandField } from './band-fields.js';
import type { BandColumns } from './band.js';
import type { Severity, Trend } from './severity.js';

type FieldType = 'time' | 'number' | 'string';

/**
 * Grafana's JSON data-frame wire format, as `/api/ds/query` writes it and
 * `dataFrameFromJSON` (@grafana/data) and `data.Frame` (grafana-plugin-sdk-go)
 * read it: a schema of typed fields and the values column by column.
 */
export interface FieldSchema {
  name: string;
  type: FieldType;
  /** The Go type of the column, as Grafana writes it; grafana-plugin-sdk-go refuses a field without it. */
  typeInfo: { frame: string; nullable?: boolean };
  labels?: Record<string, string>;
  config?: { unit?: string; displayName?: string };
}

// Times are never null; empty buckets make numbers null; a row may lack a dimension.
const TYPE_INFO: Record<FieldType, FieldSchema['typeInfo']> = {
  time: { frame: 'time.Time' },
  number: { frame: 'float64', nullable: true },
  string: { frame: 'string', nullable: true },
};

function field(name: string, type: FieldType, rest: Pick<FieldSchema, 'labels' | 'config'> = {}): FieldSchema {
  return { name, type, typeInfo: TYPE_INFO[type], ...rest };
}

export interface Frame {
  schema: {
    name: string;
    refId: string;
    fields: FieldSchema[];
    /** `notices` are Grafana's own: shown on the panel (e.g. a level KPI without a previous snapshot). */
    meta: { custom: { source: string; cached: boolean }; notices?: Array<{ severity: 'info' | 'warning'; text: string }> };
  };
  data: { values: unknown[][] };
}

export interface FrameContext {
  refId: string;
  metric: CatalogMetric;
  /** Named in time series display names, so p50, p95 and p99 of one metric are three legend entries. */
  aggregation?: string;
  source: string;
  cached: boolean;
}

const PREVIOUS_SUFFIX = ' (previous period)';

function meta(context: FrameContext) {
  return { custom: { source: context.source, cached: context.cached } };
}

/** "Orders created sum" alone, "Bot response time p95 (web, US)" per group-by series, so legends tell series apart. */
function displayName(label: string, aggregation: string | undefined, labels: Record<string, string>, previous: boolean): string {
  const values = Object.values(labels);
  return `${label}${aggregation ? ` ${aggregation}` : ''}${values.length ? ` (${values.join(', ')})` : ''}${previous ? PREVIOUS_SUFFIX : ''}`;
}

/**
 * One frame per series: a time field and a value field labelled with the group-by values, then
 * the columns of the `band` option when asked (expected, lower, upper, score), same labels.
 */
export function timeSeriesFrames(
  context: FrameContext,
  series: Series[],
  options: { previous?: boolean; band?: (labels: Record<string, string>) => BandColumns | undefined; only?: BandField } = {},
): Frame[] {
  const previous = options.previous ?? false;
  return series.map((one) => {
    const labels = previous ? { ...one.labels, period: 'previous' } : one.labels;
    const withLabels = Object.keys(labels).length > 0 ? { labels } : {};
    const band = options.band?.(one.labels) ?? {};
    const bandFields = BAND_FIELDS.filter((name) => band[name] !== undefined && (options.only === undefined || name === options.only));
    const valueField = field('value', 'number', {
      ...withLabels,
      config: { unit: context.metric.unit, displayName: displayName(context.metric.label, context.aggregation, one.labels, previous) },
    });
    return {
      schema: {
        name: `${context.metric.key}${previous ? PREVIOUS_SUFFIX : ''}`,
        refId: context.refId,
        fields: [
          field('time', 'time'),
          ...(options.only ? [] : [valueField]),
          ...bandFields.map((name) =>
            field(name, 'number', { ...withLabels, config: { unit: name === 'score' ? 'percentunit' : context.metric.unit, displayName: `${displayName(context.metric.label, context.aggregation, one.labels, previous)} ${name}` } }),
          ),
        ],
        meta: meta(context),
      },
      data: { values: [one.times, ...(options.only ? [] : [one.values]), ...bandFields.map((name) => band[name]!)] },
    };
  });
}

/** One wide frame: a string column per group-by dimension, then the value over the whole range. */
export function tableFrame(context: FrameContext, groupBy: string[], series: Series[]): Frame {
  return {
    schema: {
      name: context.metric.key,
      refId: context.refId,
      fields: [
        ...groupBy.map((dimension) => field(dimension, 'string')),
        field('value', 'number', { config: { unit: context.metric.unit, displayName: context.metric.label } }),
      ],
      meta: meta(context),
    },
    data: { values: [...groupBy.map((dimension) => series.map((one) => one.labels[dimension] ?? '')), series.map((one) => one.values[0] ?? null)] },
  };
}

export interface Kpi {
  value: number | null;
  previous: number | null;
  deltaPercent: number | null;
  trend: Trend;
  severity: Severity;
  /** Set when the value is not what the range asked for, e.g. a level's current value without a snapshot to compare with. */
  note?: string;
}

/** One row: the value over the range, the previous period's, the change, its direction and severity. */
export function kpiFrame(context: FrameContext, kpi: Kpi): Frame {
  const unit = context.metric.unit;
  return {
    schema: {
      name: context.metric.key,
      refId: context.refId,
      fields: [
        field('value', 'number', { config: { unit, displayName: context.metric.label } }),
        field('previous', 'number', { config: { unit } }),
        field('deltaPercent', 'number', { config: { unit: 'percent' } }),
        field('trend', 'string'),
        field('severity', 'string'),
      ],
      meta: { ...meta(context), ...(kpi.note && { notices: [{ severity: 'info' as const, text: kpi.note }] }) },
    },
    data: { values: [[kpi.value], [kpi.previous], [kpi.deltaPercent], [kpi.trend], [kpi.severity]] },
  };
}

/**
 * format 'list': one frame, one row per event, newest first: time, type, one
 * string field per column (named by the attribute), and value when any of
 * the listed events carries one.
 */
export function listFrame(context: FrameContext, columns: string[], rows: ListRow[]): Frame {
  const withValue = rows.some((row) => row.value !== null);
  const fields = [field('time', 'time'), field('type', 'string'), ...columns.map((name) => field(name, 'string'))];
  const values: unknown[][] = [rows.map((row) => row.time), rows.map((row) => row.type), ...columns.map((_, index) => rows.map((row) => row.columns[index] ?? null))];
  if (withValue) {
    fields.push(field('value', 'number', { config: { unit: context.metric.unit } }));
    values.push(rows.map((row) => row.value));
  }
  return { schema: { name: context.metric.key, refId: context.refId, fields, meta: meta(context) }, data: { values } };
}

/**
 * `JSON.stringify(frames)`, the same text, faster for long number columns: a column array several frames share (the
 * time field of every series of one answer) is written once, and each distinct number converted once (the 3,600
 * points of an hourly p95 by bot hold ~150 values). Formatting doubles was most of serializing such an answer.
 * Module-level functions, not closures per call: every cold answer is serialized here, and tsx names each closure it
 * creates (bench/README.md, issue 20, step 17).
 */
export function framesToJson(frames: Frame[]): string {
  return writeFrames(frames, false).text;
}

/** `"cached":false` as a stored answer says it: served from the cache (stored-answers.ts, encodeAnswer). */
export const markCached = (text: string): string => text.replaceAll('"cached":false', '"cached":true');

/**
 * framesToJson's text, and the same text with every `"cached":false` made `"cached":true` (`markCached` of it, the
 * stored answer's frames), written together: the number columns, where the mark cannot occur (no quotes), are shared
 * by both, and only the rest is searched for it. Searching a whole answer's text again was 0.5 ms of a cold Business
 * overview load (bench/README.md, issue 20, step 24). The mark never spans two parts: it holds no comma or bracket.
 */
export function framesToJsonTwice(frames: Frame[]): { text: string; marked: string } {
  return writeFrames(frames, true);
}

interface Written {
  /** Number texts, and whole columns by array. */
  texts: Map<number, string>;
  columns: Map<unknown[], string>;
  /** Whether the marked text is written too. */
  marking: boolean;
}

/** A part of the text and of the marked text (the same string object where the mark cannot occur). */
interface Pair {
  text: string;
  marked: string;
}

function writeFrames(frames: Frame[], marking: boolean): Pair {
  const seen: Written = { texts: new Map(), columns: new Map(), marking };
  let text = '[';
  let marked = '[';
  for (let index = 0; index < frames.length; index += 1) {
    const one = frameJson(frames[index]!, seen);
    const comma = index > 0 ? ',' : '';
    text += `${comma}${one.text}`;
    if (marking) marked += `${comma}${one.marked}`;
  }
  return { text: `${text}]`, marked: marking ? `${marked}]` : '' };
}

/** JSON.stringify's text of anything else (and, when marking, that text marked). */
function plain(value: unknown, seen: Written): Pair | undefined {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : { text, marked: seen.marking ? markCached(text) : '' };
}

function frameJson(frame: Frame, seen: Written): Pair {
  if ('toJSON' in frame) {
    // As a template literal writes what JSON.stringify returns, undefined too.
    const text = String(JSON.stringify(frame));
    return { text, marked: seen.marking ? markCached(text) : '' };
  }
  return objectJson(frame as unknown as Record<string, unknown>, seen, 'data', dataJson);
}

/** An object's members in key order, the member named `special` written by `write`. */
function objectJson(record: Record<string, unknown>, seen: Written, special: string, write: (value: unknown, seen: Written) => Pair | undefined): Pair {
  let text = '{';
  let marked = '{';
  for (const key of Object.keys(record)) {
    const value = record[key];
    const name = `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:`;
    if (key === special) {
      const one = write(value, seen);
      if (one === undefined) continue;
      // `"data":` and `"values":` end no mark that the value's `{` or `[` would finish.
      text += `${name}${one.text}`;
      if (seen.marking) marked += `${name}${one.marked}`;
      continue;
    }
    const member = JSON.stringify(value);
    if (member === undefined) continue;
    text += `${name}${member}`;
    // The small members searched with their key: `"cached":false` is a key and its value.
    if (seen.marking) marked += markCached(`${name}${member}`);
  }
  return { text: `${text}}`, marked: seen.marking ? `${marked}}` : '' };
}

/** data.values, a list of columns, is the long part; anything else is written by JSON.stringify. */
function dataJson(data: unknown, seen: Written): Pair | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || 'toJSON' in data) return plain(data, seen);
  return objectJson(data as Record<string, unknown>, seen, 'values', valuesJson);
}

function valuesJson(inner: unknown, seen: Written): Pair | undefined {
  return Array.isArray(inner) && inner.every(Array.isArray) ? columnsJson(inner as unknown[][], seen) : plain(inner, seen);
}

function columnsJson(columns: unknown[][], seen: Written): Pair {
  let text = '[';
  let marked = '[';
  for (let index = 0; index < columns.length; index += 1) {
    const values = columns[index]!;
    let column = seen.columns.get(values);
    if (column === undefined) {
      const numbers = numbersToJson(values, seen.texts);
      // Numbers and nulls hold no quotes, so no mark: one string for both texts.
      column = numbers ?? JSON.stringify(values);
      seen.columns.set(values, column);
    }
    const comma = index > 0 ? ',' : '';
    text += `${comma}${column}`;
    if (seen.marking) marked += `${comma}${column.includes('"') ? markCached(column) : column}`;
  }
  return { text: `${text}]`, marked: seen.marking ? `${marked}]` : '' };
}

/** A column of numbers and nulls as JSON (non-finite numbers are null, as JSON.stringify writes them), else undefined. */
function numbersToJson(values: unknown[], texts: Map<number, string>): string | undefined {
  let out = '[';
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index];
    if (index > 0) out += ',';
    if (typeof value === 'number') {
      let text = texts.get(value);
      if (text === undefined) texts.set(value, (text = Number.isFinite(value) ? String(value) : 'null'));
      out += text;
    } else if (value === null) out += 'null';
    else return undefined;
  }
  return `${out}]`;
}
