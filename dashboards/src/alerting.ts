import { ContactPointBuilder, NotificationPolicyBuilder, QueryBuilder, RuleBuilder, type Rule } from '@grafana/grafana-foundation-sdk/alerting';
import { TypeMathBuilder, TypeReduceBuilder, TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
import type { MetricRule } from '../../backend/src/anomalies/rules.js';
import type { CatalogQueries } from './catalog.js';
import { DATASOURCE, type MetricsHubQueryBuilder } from './query.js';

/**
 * Grafana-managed alert rules on Metrics Hub queries, a contact point and a
 * notification policy, as Grafana's alerting file-provisioning documents
 * (apiVersion 1). Rules are built with the foundation SDK, then written in
 * the file format (which names the group and folder instead of their uids).
 */
export const FOLDER = 'Metrics Hub';
export const GROUP = 'metricshub-business';
export const CONTACT_POINT = 'Metrics Hub on-call';
const EXPRESSIONS = { type: '__expr__', uid: '__expr__' };
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** What "Revenue spike" compares: the last half hour, to the minute. */
const REVENUE_WINDOW = 30 * MINUTE;

/** A data step that runs a Metrics Hub query over [now - from, now - to]. */
function metricsHub(refId: string, query: MetricsHubQueryBuilder, from: number, to = 0): QueryBuilder {
  return new QueryBuilder(refId).datasourceUid(DATASOURCE.uid).relativeTimeRange({ from, to }).model(query.refId(refId));
}

function expression(refId: string, model: TypeReduceBuilder | TypeThresholdBuilder | TypeMathBuilder): QueryBuilder {
  return new QueryBuilder(refId).datasourceUid(EXPRESSIONS.uid).model(model.refId(refId).datasource(EXPRESSIONS));
}

/** Reduces a series to one number per label set; empty buckets are dropped, not counted as 0. */
function reduce(refId: string, input: string, reducer: 'last' | 'mean'): QueryBuilder {
  return expression(refId, new TypeReduceBuilder().expression(input).reducer(reducer).settings({ mode: 'dropNN' }));
}

type Comparison = 'gt' | 'lt' | 'gte' | 'lte';

/** `value` crosses the bound; with `recovery`, a firing series resolves only once that holds (Grafana's recovery threshold). */
function threshold(refId: string, input: string, type: Comparison, value: number, recovery?: { type: Comparison; value: number }): QueryBuilder {
  // Rounded: 0.12 - 0.02 is 0.09999999999999999 in floating point, and a reader expects 0.1.
  const round = (x: number) => Math.round(x * 1e12) / 1e12;
  const condition = { evaluator: { type, params: [value] }, ...(recovery && { unloadEvaluator: { type: recovery.type, params: [round(recovery.value)] } }) };
  return expression(refId, new TypeThresholdBuilder().expression(input).conditions([condition]));
}

function math(refId: string, formula: string): QueryBuilder {
  return expression(refId, new TypeMathBuilder().expression(formula));
}

function rule(uid: string, title: string, severity: 'warning' | 'critical', metric: string): RuleBuilder {
  return new RuleBuilder(title)
    .uid(uid)
    .labels({ team: 'metricshub', severity, metric })
    // No data is no traffic in the window (a quiet night, a new organization) or too little
    // volume to judge (a ratio's minVolume): not an incident, so the rule stays Normal.
    .noDataState('OK')
    // A Metrics Hub backend that cannot answer is its own alert (DatasourceError), not a silent OK.
    .execErrState('Error')
    .isPaused(false);
}

function annotations(summary: string, description: string, runbook: string[]): Record<string, string> {
  return {
    summary,
    description,
    runbook: runbook.map((step, index) => `${index + 1}. ${step}`).join('\n'),
  };
}

/** "10m" from 600000 ms: Grafana's duration syntax. */
function duration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

interface LimitTexts {
  uid: string;
  /** Receives the limit as people read it: "20%", "5000 ms". */
  title: (limit: string) => string;
  subject: string;
  description: (limit: string, window: string) => string;
  runbook: string[];
}

/**
 * A Grafana rule on the metric's own threshold anomaly rule from the catalog: same critical
 * limit, window length, pending time and per-dimension split, judged over a rolling window
 * (the last `window` up to the evaluation, to the minute), so an incident in the current hour
 * pages before the hour is over.
 */
function limitRule(catalog: CatalogQueries, key: string, texts: LimitTexts): RuleBuilder {
  const metric = catalog.metric(key);
  const severity = catalog.severity(key);
  if (severity?.critical === undefined) throw new Error(`alerting: metric '${key}' needs a threshold rule with a critical limit in the catalog`);
  const { critical, rule: source } = severity;
  const percent = metric.unit === 'percentunit';
  const limit = percent ? `${Math.round(critical * 1000) / 10}%` : `${critical} ${metric.unit}`;
  const shown = percent ? 'humanizePercentage' : 'humanize';
  const per = source.groupBy.map((dimension) => `{{ $labels.${dimension} }}`).join(', ');
  return rule(texts.uid, texts.title(limit), 'critical', key)
    .withQuery(metricsHub('A', catalog.query(key, { groupBy: source.groupBy, rolling: true }), source.window / 1000))
    .withQuery(reduce('B', 'A', 'last'))
    .withQuery(threshold('C', 'B', severity.bad === 'above' ? 'gt' : 'lt', critical))
    .condition('C')
    .forDuration(duration(source.for))
    .annotations(
      annotations(
        `${texts.subject}${per ? ` (${per})` : ''} is {{ ${shown} $values.B.Value }} (limit ${limit})`,
        texts.description(limit, duration(source.window)),
        texts.runbook,
      ),
    );
}

interface BandTexts {
  uid: string;
  title: string;
  summary: (rule: MetricRule['rule']) => string;
  /** Says exactly what is judged, from the catalog rule's own settings. */
  description: (rule: MetricRule['rule']) => string;
  runbook: string[];
}

const pct = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;
const windowOf = (rule: MetricRule['rule']) => (rule.type === 'threshold' ? `${rule.window / 3_600_000}` : '?');

/**
 * A Grafana rule on what a catalog rule judges, read through the `band` query option.
 *
 * A ratio rule: the edge of its Wilson interval against its first bound, with the rule's
 * hysteresis as Grafana's recovery threshold, over a rolling window as long as the rule's
 * (`rolling`: the last 3 hours up to the evaluation, the current partial hour as far as it has
 * happened). Evaluated on the hour it judges exactly the hours the backend rule judges; between
 * hours it sees an incident that began in the current hour. Fewer events than the rule's
 * minVolume (a quiet night) is no data, as the backend skips it.
 *
 * A baseline rule: the anomaly score against 0.5 (the score at its warning z). Its model predicts
 * whole hours of the week, so it judges the last complete hour: the range is one bucket long, it
 * holds that hour and the partial current one, whose band is null, and `last` (nulls dropped)
 * reads the hour the backend rule judges.
 */
function bandRule(catalog: CatalogQueries, id: string, texts: BandTexts): RuleBuilder {
  const { metric, rule: source } = catalog.rule(id);
  let field: 'lower' | 'upper' | 'score';
  let condition: QueryBuilder;
  let rangeSeconds: number;
  let rolling = false;
  if (source.type === 'baseline') {
    field = 'score';
    rangeSeconds = source.bucket / 1000;
    condition = threshold('C', 'B', 'gte', 0.5);
  } else if (source.type === 'threshold' && metric.kind === 'ratio') {
    const bound = (source.warning ?? source.critical)!;
    const slack = source.hysteresis ?? Math.abs(bound) * 0.05;
    const above = source.direction === 'above';
    field = above ? 'lower' : 'upper';
    rangeSeconds = source.window / 1000;
    rolling = true;
    condition = threshold('C', 'B', above ? 'gte' : 'lte', bound, above ? { type: 'lt', value: bound - slack } : { type: 'gt', value: bound + slack });
  } else {
    throw new Error(`alerting: rule '${id}' has no band (bands exist for baseline rules and threshold rules on ratios)`);
  }
  const query = catalog.query(metric.key, { groupBy: source.groupBy, band: id, bandField: field, ...(rolling && { rolling }) });
  return rule(texts.uid, texts.title, 'warning', metric.key)
    .withQuery(metricsHub('A', query, rangeSeconds))
    .withQuery(reduce('B', 'A', 'last'))
    .withQuery(condition)
    .condition('C')
    .forDuration(duration(source.for))
    .keepFiringFor(duration(source.keepFiringFor))
    .annotations(annotations(texts.summary(source), texts.description(source), texts.runbook));
}

export function alertRules(catalog: CatalogQueries): Rule[] {
  const rules: RuleBuilder[] = [
    bandRule(catalog, 'workflow_failure_rate_high', {
      uid: 'mh-workflow-failure-rate',
      title: 'Workflow failure rate high',
      summary: (r) => `At least {{ humanizePercentage $values.B.Value }} of workflow runs are failing (lower edge of the Wilson interval, last ${windowOf(r)} hours up to now)`,
      description: (r) =>
        r.type === 'threshold'
          ? `The catalog rule workflow_failure_rate_high, read through its band over a rolling window: over the last ${windowOf(r)} hours up to the evaluation, the current hour as far as it has happened (at least ${r.minVolume} runs), the failure rate's Wilson interval at z = ${r.confidence} lies at or above ${pct(r.warning!)}; it resolves once it falls under ${pct(r.warning! - (r.hysteresis ?? r.warning! * 0.05))}.`
          : '',
      runbook: [
        'Open the Business overview dashboard, row "Workflow health": which status grows (FAILED or FAILED_SAFETY_LIMIT)?',
        'FAILED_SAFETY_LIMIT means runs hit their step or loop limit: look for a workflow changed recently and roll it back.',
        'FAILED: check the workflow engine logs and the external services the failing workflows call.',
        'The alert resolves by itself once the interval falls back under 10%.',
      ],
    }),

    bandRule(catalog, 'delivery_rate_low', {
      uid: 'mh-delivery-rate-drop',
      title: 'Message delivery rate dropped',
      summary: (r) => `At most {{ humanizePercentage $values.B.Value }} of sent messages are delivered (upper edge of the Wilson interval, last ${windowOf(r)} hours up to now)`,
      description: (r) =>
        r.type === 'threshold'
          ? `The catalog rule delivery_rate_low, read through its band over a rolling window: over the last ${windowOf(r)} hours up to the evaluation, the current hour as far as it has happened (at least ${r.minVolume} messages sent), the delivery rate's Wilson interval at z = ${r.confidence} lies at or below ${pct(r.warning!)}; it resolves once it rises over ${pct(r.warning! + (r.hysteresis ?? r.warning! * 0.05))}.`
          : '',
      runbook: [
        'Open the Source: Metrics Hub events dashboard, panel "Delivery rate": is one channel affected or all?',
        "Check the messaging provider's status page and the delivery webhooks reaching POST /api/v1/events.",
        'A sudden drop for one agent usually means a blocked sender number or address: see Agent performance.',
      ],
    }),

    bandRule(catalog, 'orders_unusual', {
      uid: 'mh-orders-unusual',
      title: 'Orders unusual for this hour of the week',
      summary: () => 'Orders in the last complete hour have an anomaly score of {{ humanize $values.B.Value }} (alert from 0.5)',
      description: (r) =>
        r.type === 'baseline'
          ? `The catalog rule orders_unusual, read through its band: the orders of the last complete hour are at least ${r.warningZ} robust standard deviations (${r.transform === 'sqrt' ? 'on a square-root scale' : 'raw'}) from what the same hour of the last ${r.seasons} weeks, the same hour of recent days or the last hours predict (score 0.5 and more).`
          : '',
      runbook: [
        'Open the Business overview dashboard: the shaded band is what was expected; is the hour above or below it?',
        'Below: check checkout, the payment provider and the shop for errors since the hour began.',
        'Above: check campaigns and for duplicated order events.',
      ],
    }),

    rule('mh-revenue-spike', 'Revenue spike', 'warning', 'order_value')
      .withQuery(metricsHub('A', catalog.query('order_value', { rolling: true }), REVENUE_WINDOW))
      // Complete hours: the range ends an hour ago, and the hour holding its end is the last complete one.
      .withQuery(metricsHub('B', catalog.query('order_value'), 7 * DAY, HOUR))
      .withQuery(reduce('C', 'A', 'last'))
      .withQuery(reduce('D', 'B', 'mean'))
      // Three average half hours: 1.5 average hours. With no orders for a week D is 0 and nothing is a spike.
      .withQuery(math('E', `$D > 0 && $C > $D * ${(3 * REVENUE_WINDOW) / HOUR}`))
      .withQuery(threshold('F', 'E', 'gt', 0))
      .condition('F')
      .forDuration('5m')
      .annotations(
        annotations(
          'Revenue in the last 30 minutes is {{ humanize $values.C.Value }}, over 3x an average half hour of the previous 7 days (average hour: {{ humanize $values.D.Value }})',
          'Order value in the last 30 minutes up to the evaluation (a rolling window: the current hour as far as it has happened) is more than three times that of an average half hour of the previous 7 days (half the average hourly order value over the complete hours of the last 7 days).',
          [
            'Good news or a problem? Compare "Orders and payments": a real spike shows more orders and successful payments.',
            'If orders rise without payments, look for duplicated order events or a test shop sending to production.',
            'If a single product or market explains it, tell sales and check stock.',
          ],
        ),
      ),

    limitRule(catalog, 'bot_response_time_ms', {
      uid: 'mh-bot-p95-response-time',
      title: (limit) => `Bot p95 response time above ${limit}`,
      subject: 'Bot p95 response time',
      description: (limit, window) => `The 95th percentile response time of all bot responses over the last ${window} up to the evaluation (a rolling window: the current hour as far as it has happened) is above ${limit}.`,
      runbook: [
        'Open Bot performance with $bot set to this bot: do p50 and p99 rise too (the bot is slow) or only p99 (a few slow calls)?',
        'Check the bot\'s upstream model or API latency and its error rate on the same dashboard.',
        'If volume rose at the same time, scale the bot workers.',
      ],
    }),
  ];
  return rules.map((built) => built.build());
}

/** File-provisioning shape of a rule: the API's folderUID, ruleGroup and orgID belong to the group instead. */
function fileRule(built: Rule): Record<string, unknown> {
  const { folderUID: _folder, ruleGroup: _group, orgID: _org, ...rest } = built;
  return rest;
}

export function alertRulesDocument(catalog: CatalogQueries): Record<string, unknown> {
  return {
    apiVersion: 1,
    groups: [{ orgId: 1, name: GROUP, folder: FOLDER, interval: '1m', rules: alertRules(catalog).map(fileRule) }],
  };
}

export function contactPointsDocument(): Record<string, unknown> {
  const contactPoint = new ContactPointBuilder()
    .uid('metricshub-oncall')
    .name(CONTACT_POINT)
    .type('email')
    // Interpolated by Grafana from its environment when it reads the file.
    .settings({ addresses: '${METRICSHUB_ALERT_EMAILS}', singleEmail: true })
    .disableResolveMessage(false)
    .build();
  const { name, ...receiver } = contactPoint;
  return { apiVersion: 1, contactPoints: [{ orgId: 1, name, receivers: [receiver] }] };
}

/**
 * The notification policy tree. Provisioning a policy replaces the
 * organization's whole tree, which is what the stack wants; an existing Grafana
 * can leave this file out (docs/grafana.md) and route on the team label instead.
 */
export function policiesDocument(): Record<string, unknown> {
  const policy = new NotificationPolicyBuilder()
    .receiver(CONTACT_POINT)
    .groupBy(['grafana_folder', 'alertname'])
    .groupWait('30s')
    .groupInterval('5m')
    .repeatInterval('4h')
    .routes([
      new NotificationPolicyBuilder()
        .receiver(CONTACT_POINT)
        .objectMatchers([
          ['team', '=', 'metricshub'],
          ['severity', '=', 'critical'],
        ])
        .groupWait('10s')
        .repeatInterval('1h'),
      new NotificationPolicyBuilder().receiver(CONTACT_POINT).objectMatchers([['team', '=', 'metricshub']]),
    ])
    .build();
  return { apiVersion: 1, policies: [{ orgId: 1, ...policy }] };
}
