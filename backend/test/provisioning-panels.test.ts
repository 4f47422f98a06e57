import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { JSDOM } from 'jsdom';
import { firstValueFrom, of } from 'rxjs';
import { loadCatalog } from '../src/catalog/load.js';
import { kpiFrame, tableFrame } from '../src/query/frames.js';
import { CHANGE, THIS_PERIOD } from '../../dashboards/src/panels.js';
import { allPanels, dashboardFiles } from '../../dashboards/test/support.js';

// @grafana/data is a browser library: give it a DOM, then load it as Grafana's own code would run.
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: 'http://localhost/' });
for (const key of ['window', 'document', 'navigator', 'localStorage', 'HTMLElement', 'getComputedStyle', 'matchMedia'] as const) {
  const value = key === 'window' ? dom.window : (dom.window as unknown as Record<string, unknown>)[key];
  Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
}
const grafana = createRequire(import.meta.url)('@grafana/data') as typeof import('@grafana/data');

const catalog = loadCatalog();
const transformers = Object.values(grafana.standardTransformers) as Array<import('@grafana/data').DataTransformerInfo>;

/** Runs a panel's transformations with Grafana's own transformers, as the panel's query runner does. */
async function transform(panel: any, frames: import('@grafana/data').DataFrame[]): Promise<import('@grafana/data').DataFrame[]> {
  let data = frames;
  for (const step of panel.transformations ?? []) {
    const transformer = transformers.find((candidate) => candidate.id === step.id);
    assert.ok(transformer, `transformation ${step.id} is not one of Grafana's standard transformers`);
    data = await firstValueFrom(transformer.operator(step.options, { interpolate: (text: string) => text })(of(data)));
  }
  return data;
}

function matches(override: any, field: import('@grafana/data').Field, frame: import('@grafana/data').DataFrame, frames: import('@grafana/data').DataFrame[]): boolean {
  const matcher = grafana.fieldMatchers.get(override.matcher.id).get(override.matcher.options);
  return matcher(field, frame, frames);
}

describe('KPI stat panels, fed the backend\'s own KPI frame through Grafana\'s transformers and matchers', () => {
  const stats = dashboardFiles().flatMap(({ file, json }) =>
    allPanels(json)
      .filter((panel) => panel.type === 'stat' && panel.targets?.[0]?.format === 'kpi')
      .map((panel) => ({ where: `${file} '${panel.title}'`, panel })),
  );

  test('there are KPI stats to check', () => {
    assert.ok(stats.length >= 8, `${stats.length} KPI stats`);
  });

  test('each shows exactly two numbers, the value and the change, under readable names', async () => {
    for (const { where, panel } of stats) {
      const metric = catalog.metric(panel.targets[0].metric)!;
      const wire = kpiFrame({ refId: 'A', metric, source: metric.source, cached: false }, { value: 0.12, previous: 0.04, deltaPercent: 200, trend: 'up', severity: 'critical' });
      const frames = await transform(panel, [grafana.dataFrameFromJSON(wire as unknown as import('@grafana/data').DataFrameJSON)]);
      const numeric = frames.flatMap((frame) => frame.fields.filter((field) => field.type === grafana.FieldType.number).map((field) => grafana.getFieldDisplayName(field, frame, frames)));
      assert.deepEqual(numeric, [THIS_PERIOD, CHANGE], where);
    }
  });

  test('each field override reaches the field it is meant for', async () => {
    for (const { where, panel } of stats) {
      const metric = catalog.metric(panel.targets[0].metric)!;
      const wire = kpiFrame({ refId: 'A', metric, source: metric.source, cached: false }, { value: 10, previous: 8, deltaPercent: 25, trend: 'up', severity: 'healthy' });
      const frames = await transform(panel, [grafana.dataFrameFromJSON(wire as unknown as import('@grafana/data').DataFrameJSON)]);
      const [frame] = frames;
      for (const override of panel.fieldConfig.overrides) {
        const hits = frame!.fields.filter((field) => matches(override, field, frame!, frames)).map((field) => field.name);
        assert.deepEqual(hits, ['deltaPercent'], `${where}: override ${JSON.stringify(override.matcher)}`);
      }
    }
  });
});

describe('anomaly tables, fed an annotation frame as the plugin builds it (plugin/src/annotations.ts)', () => {
  const tables = dashboardFiles().flatMap(({ file, json }) =>
    allPanels(json)
      .filter((panel) => panel.type === 'table' && panel.targets?.[0]?.queryType === 'annotations')
      .map((panel) => ({ where: `${file} '${panel.title}'`, panel })),
  );

  test('sort by a column that exists after their transformations, and hide the colour column', async () => {
    assert.ok(tables.length >= 2, `${tables.length} anomaly tables`);
    const frame = grafana.createDataFrame({
      refId: 'Anomalies',
      fields: [
        { name: 'time', type: grafana.FieldType.time, values: [1769904000000] },
        { name: 'timeEnd', type: grafana.FieldType.time, values: [1769907600000] },
        { name: 'title', type: grafana.FieldType.string, values: ['Workflow failure rate critical'] },
        { name: 'text', type: grafana.FieldType.string, values: ['22% of runs failed. Recommendation: check FAILED_SAFETY_LIMIT runs.'] },
        { name: 'tags', type: grafana.FieldType.other, values: [['critical']] },
        { name: 'color', type: grafana.FieldType.string, values: ['red'] },
      ],
    });
    for (const { where, panel } of tables) {
      const frames = await transform(panel, [frame]);
      const names = frames[0]!.fields.map((field) => grafana.getFieldDisplayName(field, frames[0], frames));
      assert.ok(!names.includes('color'), `${where}: colour column hidden`);
      for (const sort of panel.options.sortBy ?? []) assert.ok(names.includes(sort.displayName), `${where}: sorts by '${sort.displayName}', columns are ${names.join(', ')}`);
    }
  });
});

describe('table-format panels, fed the backend\'s own table frames through Grafana\'s transformers', () => {
  const tables = dashboardFiles().flatMap(({ file, json }) =>
    allPanels(json)
      .filter((panel) => panel.type === 'table' && panel.targets?.some((target: any) => target.format === 'table'))
      .map((panel) => ({ where: `${file} '${panel.title}'`, panel })),
  );

  test('join into one row per group and sort by a column that exists', async () => {
    assert.ok(tables.length >= 1, 'the lead-source ranking');
    for (const { where, panel } of tables) {
      const frames = panel.targets.map((target: any, index: number) => {
        const metric = catalog.metric(target.metric)!;
        const series = ['web', 'referral'].map((group, row) => ({ labels: Object.fromEntries(target.groupBy.map((d: string) => [d, group])), times: [0], values: [index * 10 + row] }));
        const wire = tableFrame({ refId: target.refId, metric, source: metric.source, cached: false }, target.groupBy, series);
        return grafana.dataFrameFromJSON(wire as unknown as import('@grafana/data').DataFrameJSON);
      });
      const joined = await transform(panel, frames);
      assert.equal(joined.length, 1, `${where}: one joined frame`);
      assert.equal(joined[0]!.length, 2, `${where}: one row per group`);
      const names = joined[0]!.fields.map((field) => grafana.getFieldDisplayName(field, joined[0], joined));
      assert.equal(names.length, panel.targets.length + panel.targets[0].groupBy.length, `${where}: the group columns and one column per query: ${names.join(', ')}`);
      for (const sort of panel.options.sortBy ?? []) assert.ok(names.includes(sort.displayName), `${where}: sorts by '${sort.displayName}', columns are ${names.join(', ')}`);
    }
  });
});
