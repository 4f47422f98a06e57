import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { loadRules } from '../src/anomalies/rules.js';
import { loadCatalog } from '../src/catalog/load.js';
import { pluginValidation, provisionedDatasources, queryProblems, readYaml } from '../../dashboards/test/support.js';

const catalog = loadCatalog();
const datasources = provisionedDatasources();
const rulesFile = readYaml('provisioning/alerting/rules.yaml');
const contactPointsFile = readYaml('provisioning/alerting/contact-points.yaml');
const policiesFile = readYaml('provisioning/alerting/policies.yaml');
const rules: any[] = rulesFile.groups.flatMap((group: any) => group.rules);
const EXPRESSIONS = '__expr__';
const DURATION = /^(\d+[smhdw])+$/;
let plugin: Awaited<ReturnType<typeof pluginValidation>>;

before(async () => {
  plugin = await pluginValidation();
});

/** refIds an expression step reads: `expression` for reduce and threshold, every $ref in a math formula. */
function inputs(model: any): string[] {
  if (model.type === 'math') return [...model.expression.matchAll(/\$\{?([A-Za-z]\w*)\}?/g)].map((match) => match[1]!);
  return [model.expression];
}

describe('alert rule provisioning (provisioning/alerting/rules.yaml)', () => {
  test('is a version 1 file whose groups name an org, a folder and an evaluation interval', () => {
    assert.equal(rulesFile.apiVersion, 1);
    assert.ok(rulesFile.groups.length > 0);
    for (const group of rulesFile.groups) {
      assert.equal(typeof group.orgId, 'number');
      assert.ok(group.name && group.folder, 'group name and folder');
      assert.match(group.interval, DURATION);
      assert.ok(group.rules.length > 0);
    }
  });

  test('covers the workflow failure rate, delivery rate drop, unusual orders, revenue spike and bot p95 cases', () => {
    const metrics = rules.map((rule) => rule.labels.metric).sort();
    assert.deepEqual(metrics, ['bot_response_time_ms', 'delivery_rate', 'order_value', 'orders_created', 'workflow_failure_rate']);
  });

  test('rules on a band judge exactly what their catalog rule judges: its bound, hysteresis, pending time, split and window', () => {
    const catalogRules = loadRules(catalog);
    let checked = 0;
    for (const rule of rules) {
      const [query, reduce, condition] = rule.data;
      if (!query.model.band) continue;
      const source = catalogRules.find(({ rule: r }) => r.id === query.model.band);
      assert.ok(source, `${rule.uid}: band names a catalog rule`);
      assert.equal(source.metric.key, query.model.metric, `${rule.uid}: the rule is the metric's`);
      assert.deepEqual(query.model.groupBy, source.rule.groupBy, `${rule.uid}: split`);
      assert.deepEqual([reduce.model.reducer, reduce.model.settings.mode], ['last', 'dropNN'], `${rule.uid}: the one value (nulls are no data)`);
      const { evaluator, unloadEvaluator } = condition.model.conditions[0];
      const r = source.rule;
      if (r.type === 'baseline') {
        assert.equal(query.model.bandField, 'score');
        assert.deepEqual(evaluator, { type: 'gte', params: [0.5] }, `${rule.uid}: score 0.5 is the warning z`);
        // A seasonal model predicts whole hours: one bucket back, `last` reads the last complete one.
        assert.equal(query.model.rolling, undefined, `${rule.uid}: a baseline judges whole buckets`);
        assert.equal(query.relativeTimeRange.from * 1000, r.bucket, `${rule.uid}: one bucket`);
      } else if (r.type === 'threshold') {
        const bound = (r.warning ?? r.critical)!;
        const slack = r.hysteresis ?? Math.abs(bound) * 0.05;
        const above = r.direction === 'above';
        assert.equal(query.model.bandField, above ? 'lower' : 'upper');
        // The rule's window, rolling: up to the evaluation, the current partial hour included.
        assert.equal(query.model.rolling, true, `${rule.uid}: rolling`);
        assert.deepEqual(query.relativeTimeRange, { from: r.window / 1000, to: 0 }, `${rule.uid}: window`);
        assert.deepEqual(evaluator, { type: above ? 'gte' : 'lte', params: [bound] }, `${rule.uid}: bound`);
        assert.equal(unloadEvaluator.type, above ? 'lt' : 'gt');
        assert.ok(Math.abs(unloadEvaluator.params[0] - (above ? bound - slack : bound + slack)) < 1e-9, `${rule.uid}: hysteresis as recovery threshold`);
      }
      const [, amount, unit] = /^(\d+)([smh])$/.exec(rule.for)!;
      assert.equal(Number(amount) * { s: 1_000, m: 60_000, h: 3_600_000 }[unit as 's'], r.for, `${rule.uid}: for`);
      checked += 1;
    }
    assert.equal(checked, 3, 'workflow failure rate, delivery rate and orders follow their catalog rules');
  });

  test("the bot p95 rule pages at its catalog rule's critical limit, window, pending time and split", () => {
    const source = loadRules(catalog).find(({ rule }) => rule.id === 'bot_p95_response_time_high')!.rule;
    const rule = rules.find((one) => one.labels.metric === 'bot_response_time_ms');
    assert.ok(source.type === 'threshold');
    const [query, , condition] = rule.data;
    assert.deepEqual(condition.model.conditions[0].evaluator, { type: 'gt', params: [source.critical] });
    assert.equal(query.relativeTimeRange.from * 1000, source.window);
    assert.equal(query.model.rolling, true, 'the last 2 h up to the evaluation, not whole clock hours');
    assert.deepEqual(query.model.groupBy, source.groupBy);
  });

  test('the revenue spike compares the rolling last 30 minutes with three average half hours of the previous week', () => {
    const rule = rules.find((one) => one.uid === 'mh-revenue-spike');
    const [recent, week, , , math] = rule.data;
    assert.deepEqual([recent.model.rolling, recent.relativeTimeRange], [true, { from: 1800, to: 0 }]);
    assert.deepEqual([week.model.rolling, week.relativeTimeRange], [undefined, { from: 7 * 86_400, to: 3600 }], 'complete hours of the week before');
    assert.equal(math.model.expression, '$D > 0 && $C > $D * 1.5');
  });

  test('no data is Normal and an unanswerable query is an error, on purpose', () => {
    // No data: no traffic or too little volume in the window (quiet nights), never an incident.
    // Error: a backend that cannot answer raises Grafana's DatasourceError instead of staying silent.
    for (const rule of rules) assert.deepEqual([rule.noDataState, rule.execErrState], ['OK', 'Error'], rule.uid);
  });

  test('alert rules go into the dashboards\' folder, found by its title by both provisioners', () => {
    // Grafana's alerting provisioner finds (or creates, with a random uid) a folder by title only.
    // A dashboards provider with its own folderUid would then make a second "Metrics Hub"; without
    // one it finds the same folder by title, so both share one folder and its uid.
    const providers: any[] = readYaml('provisioning/dashboards/metricshub.yaml').providers;
    for (const group of rulesFile.groups) {
      const provider = providers.find((one) => one.folder === group.folder);
      assert.ok(provider, `group ${group.name}: folder '${group.folder}' is a dashboards provider's folder`);
      assert.equal(provider.folderUid, undefined, `provider ${provider.name}: a folderUid would split the folder in two`);
    }
  });

  test('every rule has a unique uid, a title, a duration, valid states, labels and runbook annotations', () => {
    const uids = rules.map((rule) => rule.uid);
    assert.equal(new Set(uids).size, uids.length, 'unique uids');
    for (const rule of rules) {
      assert.match(rule.uid, /^[a-zA-Z0-9_-]{1,40}$/);
      assert.ok(rule.title);
      assert.match(rule.for, DURATION, `${rule.uid}: for`);
      assert.ok(['OK', 'Alerting', 'NoData', 'KeepLast'].includes(rule.noDataState), `${rule.uid}: noDataState`);
      assert.ok(['OK', 'Alerting', 'Error', 'KeepLast'].includes(rule.execErrState), `${rule.uid}: execErrState`);
      assert.ok(['warning', 'critical'].includes(rule.labels.severity), `${rule.uid}: severity label`);
      assert.equal(rule.labels.team, 'metricshub');
      // Grafana expands $VAR in labels from its environment; a $ there would be eaten.
      assert.ok(!JSON.stringify(rule.labels).includes('$'), `${rule.uid}: labels must not contain $`);
      for (const key of ['summary', 'description', 'runbook']) assert.ok(rule.annotations[key]?.length > 20, `${rule.uid}: annotation ${key}`);
    }
  });

  test('the condition names an existing refId and every expression reads only earlier steps', () => {
    for (const rule of rules) {
      const refIds: string[] = rule.data.map((step: any) => step.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${rule.uid}: unique refIds`);
      assert.ok(refIds.includes(rule.condition), `${rule.uid}: condition ${rule.condition} is not one of ${refIds.join(', ')}`);
      rule.data.forEach((step: any, index: number) => {
        assert.equal(step.model.refId, step.refId, `${rule.uid} ${step.refId}: model refId`);
        if (step.datasourceUid !== EXPRESSIONS) return;
        assert.ok(['reduce', 'threshold', 'math'].includes(step.model.type), `${rule.uid} ${step.refId}: expression type`);
        for (const input of inputs(step.model)) {
          assert.ok(refIds.slice(0, index).includes(input), `${rule.uid} ${step.refId}: reads ${input}, which is not an earlier step`);
        }
      });
      const condition = rule.data.find((step: any) => step.refId === rule.condition);
      assert.equal(condition.model.type, 'threshold', `${rule.uid}: the condition is a threshold`);
    }
  });

  test('every data query targets the provisioned data source with a valid query model over a past range', async () => {
    let checked = 0;
    for (const rule of rules) {
      for (const step of rule.data.filter((candidate: any) => candidate.datasourceUid !== EXPRESSIONS)) {
        const where = `${rule.uid} ${step.refId}`;
        assert.ok(datasources.has(step.datasourceUid), `${where}: data source ${step.datasourceUid} is not provisioned`);
        assert.equal(step.model.datasource.uid, step.datasourceUid, `${where}: model data source`);
        assert.ok(step.relativeTimeRange.from > step.relativeTimeRange.to && step.relativeTimeRange.to >= 0, `${where}: relativeTimeRange`);
        assert.equal(step.model.format, 'timeseries', `${where}: alerting reads time series`);
        assert.notEqual(step.model.live, true, `${where}: alert queries cannot stream`);
        assert.deepEqual(queryProblems(step.model, catalog, plugin), [], where);
        checked += 1;
      }
    }
    assert.ok(checked >= rules.length);
  });
});

describe('notification provisioning', () => {
  test('the contact point is a version 1 file with a named receiver whose address comes from the environment', () => {
    assert.equal(contactPointsFile.apiVersion, 1);
    const [point] = contactPointsFile.contactPoints;
    assert.ok(point.name);
    assert.equal(typeof point.orgId, 'number');
    const [receiver] = point.receivers;
    assert.ok(receiver.uid && receiver.type);
    assert.equal(receiver.settings.addresses, '${METRICSHUB_ALERT_EMAILS}');
  });

  test('the notification policy routes to contact points that are provisioned', () => {
    assert.equal(policiesFile.apiVersion, 1);
    const names = new Set(contactPointsFile.contactPoints.map((point: any) => point.name));
    const visit = (policy: any): void => {
      assert.ok(names.has(policy.receiver), `receiver '${policy.receiver}' is not a provisioned contact point`);
      for (const matcher of policy.object_matchers ?? []) assert.equal(matcher.length, 3, 'matchers are [label, operator, value]');
      (policy.routes ?? []).forEach(visit);
    };
    for (const policy of policiesFile.policies) {
      assert.equal(typeof policy.orgId, 'number');
      visit(policy);
    }
    const labels = new Set(policiesFile.policies.flatMap((policy: any) => (policy.routes ?? []).flatMap((route: any) => route.object_matchers.map((m: any) => `${m[0]}=${m[2]}`))));
    for (const rule of rules) assert.ok(labels.has(`team=${rule.labels.team}`), `${rule.uid} is routed by its team label`);
  });
});
