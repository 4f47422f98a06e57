import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { queryRequestSchema, type QueryRequest } from '../../backend/src/query/schema.js';

/**
 * Whole dashboards as Grafana asks them: one POST /api/v1/query per panel,
 * with every visible target of the panel, over the dashboard's own time range
 * (now-7d) and with each multi-value variable at its default, "All" (the
 * plugin then drops the filter on it: plugin/src/query/interpolate.ts).
 *
 * Left out, because Grafana does not ask them through /api/v1/query: panels of
 * anomaly annotations and alert lists, and the live stat panels (streamed
 * through Grafana Live).
 */
const DASHBOARDS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dashboards/general');

export const DASHBOARDS = [
  { file: 'overview.json', title: 'Business overview' },
  { file: 'bots.json', title: 'Bot performance' },
] as const;

interface PanelJson {
  type: string;
  title?: string;
  timeFrom?: string;
  interval?: string;
  maxDataPoints?: number;
  targets?: Array<Record<string, unknown> & { refId: string; queryType?: string; live?: boolean; hide?: boolean; filters?: Array<{ value: string | string[] }>; groupBy?: string[] }>;
}

export interface PanelRequest {
  title: string;
  body: QueryRequest;
}

const DURATION: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const duration = (text: string) => {
  const match = /^(\d+)([mhd])$/.exec(text);
  if (!match) throw new Error(`unsupported duration '${text}' in a dashboard panel`);
  return Number(match[1]) * DURATION[match[2]!]!;
};

/**
 * Grafana's interval for a panel: range / max data points, rounded to its
 * steps (rangeutil.roundInterval), never below the panel's min interval. A
 * half-width panel on a 1920-pixel screen is about 1,000 data points wide.
 */
function grafanaInterval(rangeMs: number, maxDataPoints: number, minInterval?: string): number {
  const raw = rangeMs / maxDataPoints;
  const steps = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);
  const rounded = steps.find((step, index) => raw <= (step + (steps[index + 1] ?? step)) / 2) ?? steps[steps.length - 1]!;
  return Math.max(rounded, minInterval ? duration(minInterval) : 0);
}

const usesVariable = (value: string | string[]) => (Array.isArray(value) ? value : [value]).some((entry) => entry.includes('$'));

export function dashboardRequests(file: string, end: number): PanelRequest[] {
  const json = JSON.parse(fs.readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8')) as { time: { from: string; to: string }; panels: PanelJson[] };
  if (json.time.to !== 'now' || !json.time.from.startsWith('now-')) throw new Error(`${file}: expected a relative time range ending now`);
  const rangeMs = duration(json.time.from.slice('now-'.length));
  const requests: PanelRequest[] = [];
  for (const panel of json.panels) {
    const targets = (panel.targets ?? []).filter((target) => !target.queryType && !target.live && !target.hide);
    if (panel.type === 'row' || targets.length === 0) continue;
    const panelRange = panel.timeFrom ? duration(panel.timeFrom) : rangeMs;
    const maxDataPoints = panel.maxDataPoints ?? 1000;
    const queries = targets.map((target) => {
      const { datasource: _datasource, ...query } = target;
      // "All" selected: the plugin removes a filter on the variable and a group-by that is only the variable.
      return {
        ...query,
        filters: (target.filters ?? []).filter((filter) => !usesVariable(filter.value)),
        groupBy: (target.groupBy ?? []).filter((entry) => !entry.includes('$')),
      };
    });
    const body = queryRequestSchema.parse({ from: end - panelRange, to: end, intervalMs: grafanaInterval(panelRange, maxDataPoints, panel.interval), maxDataPoints, queries });
    requests.push({ title: panel.title ?? '(untitled)', body });
  }
  return requests;
}
