import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { catalogFileSchema, KIND_AGGREGATIONS, type CatalogMetric, type CatalogSource } from './schema.js';

export const DEFAULT_CATALOG_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../catalog/default.yaml');

export interface Catalog {
  file: string;
  sources: CatalogSource[];
  metrics: CatalogMetric[];
  source(id: string): CatalogSource | undefined;
  metric(key: string): CatalogMetric | undefined;
  /**
   * Where an entry of the (merged) catalog is written: `['metrics', 3, 'query']`
   * of a preset that extends the default catalog may live in the default file.
   */
  locate(segments: ReadonlyArray<PropertyKey>): Location;
}

export interface Location {
  file: string;
  path: string;
  line?: number | undefined;
}

/** One problem in a catalog file, located for a human: file, line, path, reason. */
export interface CatalogProblem {
  path: string;
  line?: number | undefined;
  message: string;
  /** When the problem is in another file than the catalog's own (an extended one). */
  file?: string | undefined;
}

export class CatalogError extends Error {
  constructor(
    readonly file: string,
    readonly problems: CatalogProblem[],
  ) {
    super(
      `invalid catalog ${file}:\n` +
        problems.map((problem) => `  ${problem.file ?? file}${problem.line ? `:${problem.line}` : ''}: ${problem.path || '(root)'}: ${problem.message}`).join('\n'),
    );
    this.name = 'CatalogError';
  }
}

/** `metrics[3].unit` from ['metrics', 3, 'unit']. */
export function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  return segments.reduce<string>((out, segment) => (typeof segment === 'number' ? `${out}[${segment}]` : out ? `${out}.${String(segment)}` : String(segment)), '');
}

function lineOf(document: Document, lines: LineCounter, segments: ReadonlyArray<PropertyKey>): number | undefined {
  // Walk down as far as the path exists, so a missing key points at its parent.
  for (let depth = segments.length; depth >= 0; depth -= 1) {
    const node = document.getIn(segments.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && (node.range || isMap(node) || isSeq(node)) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function didYouMean(name: string, candidates: string[]): string {
  const close = candidates.find((candidate) => levenshtein(candidate, name) <= Math.max(2, Math.floor(name.length / 4)));
  return close ? `; did you mean '${close}'?` : '';
}

export function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** Checks that cannot be said in the schema: references between entries. */
function crossCheck(file: z.infer<typeof catalogFileSchema>): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const sourceIds = file.sources.map((source) => source.id);
  const metricKeys = file.metrics.map((metric) => metric.key);
  file.sources.forEach((source, index) => {
    if (sourceIds.indexOf(source.id) !== index) problems.push({ path: ['sources', index, 'id'], message: `duplicate source id '${source.id}'` });
    const headline = source.headline === undefined ? undefined : file.metrics.find((metric) => metric.key === source.headline);
    if (source.headline !== undefined && headline?.source !== source.id) {
      problems.push({ path: ['sources', index, 'headline'], message: `'${source.headline}' is not a metric of source '${source.id}'${headline ? ` (it belongs to '${headline.source}')` : didYouMean(source.headline, metricKeys)}` });
    }
  });
  file.metrics.forEach((metric, index) => {
    const at = (...rest: PropertyKey[]) => ['metrics', index, ...rest];
    if (metricKeys.indexOf(metric.key) !== index) problems.push({ path: at('key'), message: `duplicate metric key '${metric.key}'` });
    if (!sourceIds.includes(metric.source)) {
      problems.push({ path: at('source'), message: `source '${metric.source}' is not declared in sources${didYouMean(metric.source, sourceIds)}` });
    }
    const allowed = KIND_AGGREGATIONS[metric.kind].allowed;
    metric.aggregations?.forEach((aggregation, position) => {
      if (!allowed.includes(aggregation)) {
        problems.push({ path: at('aggregations', position), message: `'${aggregation}' does not apply to a ${metric.kind} metric (allowed: ${allowed.join(', ')})` });
      }
    });
    if (metric.defaultAggregation && !(metric.aggregations ?? allowed).includes(metric.defaultAggregation)) {
      problems.push({ path: at('defaultAggregation'), message: `'${metric.defaultAggregation}' is not among the metric's aggregations` });
    }
    const sourceType = file.sources.find((source) => source.id === metric.source)?.type;
    if (metric.kind === 'distinct' && sourceType !== undefined && sourceType !== 'events') {
      problems.push({ path: at('kind'), message: `distinct metrics are counted from event sketches: the source must be of type events, not ${sourceType}` });
    }
    if (sourceType === 'events' && (metric.kind === 'distinct') !== (metric.query?.measure === 'distinct')) {
      problems.push({ path: at('kind'), message: 'an events metric has kind distinct exactly when its query has measure: distinct' });
    }
    if (metric.level && metric.kind !== 'gauge') problems.push({ path: at('level'), message: `a level is a gauge (a state, summed across its dimensions), not a ${metric.kind}` });
    if (metric.kind === 'ratio') {
      for (const part of ['numerator', 'denominator'] as const) {
        const ref = metric[part];
        const target = ref ? file.metrics.find((candidate) => candidate.key === ref) : undefined;
        if (!ref) problems.push({ path: at(part), message: `a ratio metric needs a ${part} metric` });
        else if (!target) problems.push({ path: at(part), message: `metric '${ref}' is not in the catalog${didYouMean(ref, metricKeys)}` });
        else if (target.kind === 'ratio') problems.push({ path: at(part), message: `'${ref}' is itself a ratio; use its numerator and denominator` });
        else if (target.kind === 'distinct') problems.push({ path: at(part), message: `'${ref}' counts distinct values, which do not add up into a rate` });
        else {
          const missing = metric.dimensions.filter((dimension) => !target.dimensions.includes(dimension));
          if (missing.length) problems.push({ path: at('dimensions'), message: `dimension(s) ${missing.join(', ')} not declared on ${part} '${ref}'` });
        }
      }
    } else if (metric.numerator || metric.denominator) {
      problems.push({ path: at(metric.numerator ? 'numerator' : 'denominator'), message: 'only ratio metrics take a numerator and a denominator' });
    }
  });
  return problems;
}

/** One parsed file of a catalog: a preset and the files it extends. */
interface Layer {
  file: string;
  document: Document;
  lines: LineCounter;
  value: Record<string, unknown>;
}

/** Where each merged `sources[i]` / `metrics[i]` came from. */
type Origins = Record<'sources' | 'metrics', Array<{ layer: Layer; index: number }>>;

const MAX_EXTENDS_DEPTH = 5;

function readLayer(text: string, file: string): Layer {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new CatalogError(
      file,
      document.errors.map((error) => ({ path: '', line: error.linePos?.[0]?.line, message: `YAML syntax: ${error.message.split('\n')[0]}` })),
    );
  }
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // Well-formed YAML can still fail to resolve (an alias to an anchor never set).
    throw new CatalogError(file, [{ path: '', message: `YAML: ${error instanceof Error ? error.message : String(error)}` }]);
  }
  return { file, document, lines, value: value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value } };
}

/** The layers of a catalog, base first: `extends: ../default.yaml` is read relative to the file. */
function readLayers(text: string, file: string, seen: string[] = []): Layer[] {
  const layer = readLayer(text, file);
  const parent = layer.value.extends;
  if (parent === undefined) return [layer];
  if (typeof parent !== 'string' || parent.length === 0) {
    throw new CatalogError(file, [{ path: 'extends', line: lineOf(layer.document, layer.lines, ['extends']), message: 'must be the path of another catalog file, relative to this one' }]);
  }
  const parentFile = path.resolve(path.dirname(file), parent);
  if (seen.includes(parentFile) || parentFile === path.resolve(file) || seen.length >= MAX_EXTENDS_DEPTH) {
    throw new CatalogError(file, [{ path: 'extends', line: lineOf(layer.document, layer.lines, ['extends']), message: `'${parent}' makes a cycle or a chain deeper than ${MAX_EXTENDS_DEPTH} files` }]);
  }
  let parentText: string;
  try {
    parentText = fs.readFileSync(parentFile, 'utf8');
  } catch (error) {
    throw new CatalogError(file, [{ path: 'extends', line: lineOf(layer.document, layer.lines, ['extends']), message: `cannot read ${parentFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  return [...readLayers(parentText, parentFile, [...seen, path.resolve(file)]), layer];
}

/**
 * Merges layers: a later file's source replaces the earlier one with the same
 * id (its whole entry), a metric the earlier one with the same key; new entries
 * are appended. So a preset states only what differs, e.g. connections.
 */
function mergeLayers(layers: Layer[]): { value: Record<string, unknown>; origins: Origins } {
  const origins: Origins = { sources: [], metrics: [] };
  const merged: Record<'sources' | 'metrics', unknown[]> = { sources: [], metrics: [] };
  let value: Record<string, unknown> = {};
  for (const layer of layers) {
    const { extends: _extends, ...rest } = layer.value;
    value = { ...value, ...rest };
    for (const [list, idKey] of [['sources', 'id'], ['metrics', 'key']] as const) {
      const entries = layer.value[list];
      if (!Array.isArray(entries)) continue;
      entries.forEach((entry: unknown, index) => {
        const id = entry && typeof entry === 'object' ? (entry as Record<string, unknown>)[idKey] : undefined;
        const existing = id === undefined ? -1 : merged[list].findIndex((other) => other && typeof other === 'object' && (other as Record<string, unknown>)[idKey] === id);
        if (existing >= 0) {
          merged[list][existing] = entry;
          origins[list][existing] = { layer, index };
        } else {
          merged[list].push(entry);
          origins[list].push({ layer, index });
        }
      });
    }
  }
  if (layers.length > 1) {
    value.sources = merged.sources;
    value.metrics = merged.metrics;
  }
  return { value, origins };
}

function locator(layers: Layer[], origins: Origins) {
  const own = layers[layers.length - 1]!;
  return (segments: ReadonlyArray<PropertyKey>): Location => {
    const [list, index, ...rest] = segments;
    const origin = (list === 'sources' || list === 'metrics') && typeof index === 'number' ? origins[list][index] : undefined;
    const layer = origin?.layer ?? own;
    const local = origin ? [list!, origin.index, ...rest] : segments;
    return { file: layer.file, path: formatPath(local), line: lineOf(layer.document, layer.lines, local) };
  };
}

export function parseCatalog(text: string, file: string): Catalog {
  const layers = readLayers(text, file);
  const { value, origins } = mergeLayers(layers);
  const locate = locator(layers, origins);
  const toProblem = (segments: ReadonlyArray<PropertyKey>, message: string): CatalogProblem => {
    const location = locate(segments);
    return { path: location.path, line: location.line, message, ...(location.file !== file && { file: location.file }) };
  };
  const parsed = catalogFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new CatalogError(
      file,
      parsed.error.issues.map((issue) => toProblem(issue.path, issue.message)),
    );
  }
  const problems = crossCheck(parsed.data);
  if (problems.length > 0) {
    throw new CatalogError(
      file,
      problems.map((problem) => toProblem(problem.path, problem.message)),
    );
  }
  const metrics: CatalogMetric[] = parsed.data.metrics.map((metric) => {
    const aggregations = metric.aggregations ?? KIND_AGGREGATIONS[metric.kind].allowed;
    const fallback = KIND_AGGREGATIONS[metric.kind].default;
    return { ...metric, aggregations, defaultAggregation: metric.defaultAggregation ?? (aggregations.includes(fallback) ? fallback : aggregations[0]!) };
  });
  const sourcesById = new Map(parsed.data.sources.map((source) => [source.id, source]));
  const metricsByKey = new Map(metrics.map((metric) => [metric.key, metric]));
  return {
    file,
    sources: parsed.data.sources,
    metrics,
    source: (id) => sourcesById.get(id),
    metric: (key) => metricsByKey.get(key),
    locate,
  };
}

/** A problem at `segments` of the merged catalog, in the file and line where that entry is written. */
export function problemAt(catalog: Catalog, segments: ReadonlyArray<PropertyKey>, message: string): CatalogProblem {
  const location = catalog.locate(segments);
  return { path: location.path, line: location.line, message, ...(location.file !== catalog.file && { file: location.file }) };
}

/** Reads and validates a catalog file; throws CatalogError naming file, line, path and reason. */
export function loadCatalog(file: string = DEFAULT_CATALOG_FILE): Catalog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CatalogError(file, [{ path: '', message: `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  return parseCatalog(text, file);
}

/** Suggests the closest metric key, for "not in the catalog" errors. */
export function suggestMetric(catalog: Catalog, key: string): string {
  return didYouMean(key, catalog.metrics.map((metric) => metric.key));
}
