import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { loadCatalog } from '../src/catalog/load.js';
import { CHANGE } from '../../dashboards/src/panels.js';
import { allPanels, dashboardFiles, pluginValidation, provisionedDatasources, queryProblems, readYaml, variablesUsed } from '../../dashboards/test/support.js';

const catalog = loadCatalog();
const datasources = provisionedDatasources();
const dashboards = dashboardFiles();
let plugin: Awaited<ReturnType<typeof pluginValidation>>;

before(async () => {
  plugin = await pluginValidation();
});

function assertDatasource(ref: any, where: string): void {
  const declared = datasources.get(ref?.uid);
  assert.ok(declared, `${where}: data source uid '${ref?.uid}' is not provisioned (provisioning/datasources declares ${[...datasources.keys()].join(', ')})`);
  assert.equal(ref.type, declared.type, `${where}: data source type`);
}

describe('generated dashboards', () => {
  test('the expected dashboards exist', () => {
    const uids = dashboards.map(({ json }) => json.uid);
    for (const uid of ['metricshub-overview', 'metricshub-agents', 'metricshub-bots', 'metricshub-live', 'metricshub-source-events']) {
      assert.ok(uids.includes(uid), `missing dashboard ${uid}`);
    }
  });

  test('each has what Grafana\'s file provider needs: a unique uid of at most 40 characters, a unique title, panels', () => {
    const uids = new Set<string>();
    const titles = new Set<string>();
    for (const { file, json } of dashboards) {
      assert.match(json.uid, /^[a-zA-Z0-9_-]{1,40}$/, `${file}: uid`);
      assert.ok(!uids.has(json.uid), `${file}: duplicate uid ${json.uid}`);
      assert.ok(!titles.has(json.title), `${file}: duplicate title ${json.title}`);
      uids.add(json.uid);
      titles.add(json.title);
      assert.equal(typeof json.schemaVersion, 'number', `${file}: schemaVersion`);
      assert.ok(allPanels(json).length > 1, `${file}: panels`);
      assert.ok(json.tags.includes('metricshub'), `${file}: tag`);
    }
  });

  test('panel ids are unique and panels neither overlap nor leave the 24-column grid', () => {
    for (const { file, json } of dashboards) {
      const panels = allPanels(json);
      assert.equal(new Set(panels.map((panel) => panel.id)).size, panels.length, `${file}: panel ids`);
      const taken = new Set<string>();
      for (const panel of panels) {
        const { x, y, w, h } = panel.gridPos;
        assert.ok(x >= 0 && w > 0 && x + w <= 24, `${file}: panel '${panel.title}' leaves the grid (x=${x}, w=${w})`);
        for (let row = y; row < y + h; row += 1) {
          for (let column = x; column < x + w; column += 1) {
            assert.ok(!taken.has(`${row}:${column}`), `${file}: panel '${panel.title}' overlaps another at row ${row}, column ${column}`);
            taken.add(`${row}:${column}`);
          }
        }
      }
    }
  });

  test('every panel query is a valid plugin query naming a metric, aggregation and dimensions the catalog declares', () => {
    let checked = 0;
    for (const { file, json } of dashboards) {
      for (const panel of allPanels(json).filter((candidate) => candidate.type !== 'row' && candidate.targets)) {
        assertDatasource(panel.datasource, `${file} '${panel.title}'`);
        for (const target of panel.targets) {
          const where = `${file} '${panel.title}' ${target.refId}`;
          assertDatasource(target.datasource, where);
          if (target.queryType === 'annotations') {
            if (target.metric) assert.ok(catalog.metric(target.metric), `${where}: anomaly metric '${target.metric}' is not in the catalog`);
            continue;
          }
          assert.deepEqual(queryProblems(target, catalog, plugin), [], where);
          checked += 1;
        }
      }
    }
    assert.ok(checked > 40, `only ${checked} queries checked`);
  });

  test('template variables use the data source\'s variable query model on declared dimensions, and panels use only declared variables', () => {
    for (const { file, json } of dashboards) {
      const declared = new Set<string>((json.templating?.list ?? []).map((variable: any) => variable.name));
      for (const variable of json.templating?.list ?? []) {
        assertDatasource(variable.datasource, `${file} $${variable.name}`);
        assert.equal(variable.query.query, 'dimension_values', `${file} $${variable.name}`);
        const metric = catalog.metric(variable.query.metric);
        assert.ok(metric, `${file} $${variable.name}: metric ${variable.query.metric}`);
        assert.ok(metric.dimensions.includes(variable.query.dimension), `${file} $${variable.name}: dimension ${variable.query.dimension}`);
      }
      for (const panel of allPanels(json)) {
        for (const name of variablesUsed(JSON.stringify(panel.targets ?? []))) {
          assert.ok(declared.has(name), `${file} '${panel.title}' uses $${name}, which the dashboard does not declare`);
        }
      }
    }
  });

  test('annotations come from the Metrics Hub data source as anomaly queries', () => {
    for (const { file, json } of dashboards) {
      const list = json.annotations.list;
      assert.ok(list.length > 0, `${file}: annotations`);
      for (const annotation of list) {
        assertDatasource(annotation.datasource, `${file} annotation ${annotation.name}`);
        assert.equal(annotation.target.queryType, 'annotations');
      }
    }
  });

  test('the overview has the KPI stats with trend and severity colours, workflow health and alerts', () => {
    const overview = dashboards.find(({ json }) => json.uid === 'metricshub-overview')!.json;
    const stats = allPanels(overview).filter((panel) => panel.type === 'stat');
    const metrics = stats.map((panel) => panel.targets[0].metric);
    for (const key of ['orders_created', 'payment_success_rate', 'order_value', 'workflow_failure_rate', 'delivery_rate']) assert.ok(metrics.includes(key), `KPI ${key}`);
    for (const stat of stats) {
      assert.equal(stat.targets[0].format, 'kpi', `${stat.title}: kpi format`);
      const delta = stat.fieldConfig.overrides.find((override: any) => override.matcher.options === CHANGE);
      assert.ok(delta.properties.some((property: any) => property.id === 'thresholds'), `${stat.title}: trend colours`);
    }
    const failure = stats.find((panel) => panel.targets[0].metric === 'workflow_failure_rate');
    assert.deepEqual(failure.fieldConfig.defaults.thresholds.steps.map((step: any) => step.color), ['green', 'orange', 'red']);
    const types = allPanels(overview).map((panel) => panel.type);
    assert.ok(types.includes('alertlist') && types.includes('table'), 'alerts and anomalies');
    assert.ok(allPanels(overview).some((panel) => panel.targets?.some((target: any) => target.metric === 'workflows_total' && target.groupBy.includes('status'))), 'workflow health by status');
  });

  test('the bot dashboard shows p50, p95 and p99 response times filtered by $bot', () => {
    const bots = dashboards.find(({ json }) => json.uid === 'metricshub-bots')!.json;
    const latency = allPanels(bots).find((panel) => panel.title === 'Response time p50 / p95 / p99');
    assert.deepEqual(latency.targets.map((target: any) => target.aggregation), ['p50', 'p95', 'p99']);
    assert.ok(latency.targets.every((target: any) => target.filters.some((filter: any) => filter.dimension === 'botId' && filter.value.includes('$bot'))));
  });

  test('the live dashboard streams: every query is live, no refresh timer', () => {
    const live = dashboards.find(({ json }) => json.uid === 'metricshub-live')!.json;
    const targets = allPanels(live).flatMap((panel) => panel.targets ?? []);
    assert.ok(targets.length > 0 && targets.every((target: any) => target.live === true));
    assert.equal(live.refresh, '');
    assert.equal(live.liveNow, true);
  });

  test('the dashboard providers load the folders the generator writes', () => {
    const providers = readYaml('provisioning/dashboards/metricshub.yaml').providers;
    const folders = new Set(dashboards.map(({ file }) => file.split('/').slice(0, 2).join('/')));
    const served = providers.map((provider: any) => provider.options.path.replace('/var/lib/grafana/dashboards/metricshub', 'dashboards'));
    assert.deepEqual([...folders].sort(), [...served].sort());
  });
});
