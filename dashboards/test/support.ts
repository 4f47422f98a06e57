import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type { Catalog } from '../../backend/src/catalog/load.js';

/** Shared by backend/test/provisioning-*.test.ts: reads the generated and provisioned files as Grafana would. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function readText(relative: string): string {
  return fs.readFileSync(path.join(ROOT, relative), 'utf8');
}

export function readYaml(relative: string): any {
  return parse(readText(relative));
}

export interface DashboardFile {
  file: string;
  json: any;
}

export function dashboardFiles(): DashboardFile[] {
  return ['dashboards/general', 'dashboards/sources'].flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir))
      .filter((name) => name.endsWith('.json'))
      .map((name) => ({ file: `${dir}/${name}`, json: JSON.parse(readText(`${dir}/${name}`)) })),
  );
}

/** Panels at any depth: rows may hold their panels when collapsed. */
export function allPanels(dashboard: any): any[] {
  return (dashboard.panels ?? []).flatMap((panel: any) => [panel, ...(panel.panels ?? [])]);
}

/** The data source(s) provisioning declares, by uid. */
export function provisionedDatasources(): Map<string, { type: string; uid: string }> {
  const document = readYaml('provisioning/datasources/metricshub.yaml');
  return new Map(document.datasources.map((ds: { type: string; uid: string }) => [ds.uid, ds]));
}

interface PluginValidation {
  queryProblems(query: unknown): string[];
  catalogProblems(query: unknown, catalog: unknown): string[];
}

/** The plugin's own query checks (plugin/src/query/validate.ts): what its editor and filterQuery enforce. */
export async function pluginValidation(): Promise<PluginValidation> {
  // Loaded at run time, not imported: the plugin has its own TypeScript setup, which the backend's typecheck should not pull in.
  const url = pathToFileURL(path.join(ROOT, 'plugin/src/query/validate.ts')).href;
  return (await import(url)) as PluginValidation;
}

/** The catalog as GET /api/v1/catalog presents it to the plugin. */
export function pluginCatalog(catalog: Catalog): unknown {
  return {
    sources: catalog.sources.map((source) => ({ id: source.id, type: source.type, label: source.label ?? source.id, status: 'up' })),
    // As GET /api/v1/catalog shows them: list-friendly metrics carry their list columns.
    metrics: catalog.metrics.map((metric) => {
      const list = (metric.query as { list?: string[] } | undefined)?.list;
      return list ? { ...metric, listColumns: list } : metric;
    }),
  };
}

const FORMATS = ['timeseries', 'table', 'kpi', 'list'];
const OPS = ['eq', 'neq', 'in', 'not_in'];

/**
 * Everything wrong with one Metrics Hub query: the plugin's checks, then the
 * catalog's, strictly (template variables may stand for filter values only,
 * never for a source, metric, aggregation or dimension).
 */
export function queryProblems(query: any, catalog: Catalog, plugin: PluginValidation): string[] {
  const problems = [...plugin.queryProblems(query), ...plugin.catalogProblems(query, pluginCatalog(catalog))];
  const metric = catalog.metric(query.metric);
  if (!metric) return [...problems, `metric '${query.metric}' is not in the catalog`];
  if (query.source !== metric.source) problems.push(`source '${query.source}' is not the source of ${metric.key} ('${metric.source}')`);
  if (!query.live && !metric.aggregations.includes(query.aggregation)) problems.push(`aggregation '${query.aggregation}' is not allowed for ${metric.key}`);
  if (!FORMATS.includes(query.format)) problems.push(`format '${query.format}' is not one of ${FORMATS.join(', ')}`);
  if (query.format === 'list') {
    if (metric.kind === 'ratio' || catalog.source(metric.source)?.type !== 'events') problems.push(`format 'list' needs a counted events metric; ${metric.key} is not one`);
    if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit >= 1 && query.limit <= 1000)) problems.push(`limit ${query.limit} is not 1..1000`);
  }
  for (const dimension of [...(query.groupBy ?? []), ...(query.filters ?? []).map((filter: any) => filter.dimension)]) {
    if (!metric.dimensions.includes(dimension)) problems.push(`'${dimension}' is not a dimension of ${metric.key}`);
  }
  for (const filter of query.filters ?? []) {
    if (!OPS.includes(filter.op)) problems.push(`filter op '${filter.op}' is not one of ${OPS.join(', ')}`);
    const list = filter.op === 'in' || filter.op === 'not_in';
    if (list !== Array.isArray(filter.value)) problems.push(`filter on ${filter.dimension}: '${filter.op}' takes ${list ? 'a list' : 'one string'}`);
  }
  return problems;
}

/** Template variables a string uses: $name, ${name}, ${name:format}, [[name]]. */
export function variablesUsed(text: string): string[] {
  return [...text.matchAll(/\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]/g)].map((match) => match[1] ?? match[2] ?? match[3]!);
}
