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
}

/** One problem in a catalog file, located for a human: file, line, path, reason. */
export interface CatalogProblem {
  path: string;
  line?: number;
  message: string;
}

export class CatalogError extends Error {
  constructor(
    readonly file: string,
    readonly problems: CatalogProblem[],
  ) {
    super(
      `invalid catalog ${file}:\n` +
        problems.map((problem) => `  ${file}${problem.line ? `:${problem.line}` : ''}: ${problem.path || '(root)'}: ${problem.message}`).join('\n'),
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

export function parseCatalog(text: string, file: string): Catalog {
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
  const parsed = catalogFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new CatalogError(
      file,
      parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), line: lineOf(document, lines, issue.path), message: issue.message })),
    );
  }
  const problems = crossCheck(parsed.data);
  if (problems.length > 0) {
    throw new CatalogError(
      file,
      problems.map((problem) => ({ path: formatPath(problem.path), line: lineOf(document, lines, problem.path), message: problem.message })),
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
  };
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
