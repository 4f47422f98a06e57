import { ContactPointBuilder, NotificationPolicyBuilder, QueryBuilder, RuleBuilder, type Rule } from '@grafana/grafana-foundation-sdk/alerting';
import { TypeMathBuilder, TypeReduceBuilder, TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
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
const HOUR = 3600;
const DAY = 24 * HOUR;

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

function threshold(refId: string, input: string, type: 'gt' | 'lt', value: number): QueryBuilder {
  return expression(refId, new TypeThresholdBuilder().expression(input).conditions([{ evaluator: { type, params: [value] } }]));
}

function math(refId: string, formula: string): QueryBuilder {
  return expression(refId, new TypeMathBuilder().expression(formula));
}

function rule(uid: string, title: string, severity: 'warning' | 'critical', metric: string): RuleBuilder {
  return new RuleBuilder(title)
    .uid(uid)
    .labels({ team: 'metricshub', severity, metric })
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
 * A Grafana rule on the metric's own threshold anomaly rule from the catalog:
 * same critical limit, window, pending time and per-dimension split, so Grafana
 * pages exactly when the backend's anomaly turns critical.
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
    .withQuery(metricsHub('A', catalog.query(key, { groupBy: source.groupBy }), source.window / 1000))
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

export function alertRules(catalog: CatalogQueries): Rule[] {
  const rules: RuleBuilder[] = [
    limitRule(catalog, 'workflow_failure_rate', {
      uid: 'mh-workflow-failure-rate',
      title: (limit) => `Workflow failure rate above ${limit}`,
      subject: 'Workflow failure rate',
      description: (limit, window) => `More than ${limit} of the workflow runs finished in the last ${window} ended FAILED or FAILED_SAFETY_LIMIT, for longer than the rule's pending time.`,
      runbook: [
        'Open the Business overview dashboard, row "Workflow health": which status grows (FAILED or FAILED_SAFETY_LIMIT)?',
        'FAILED_SAFETY_LIMIT means runs hit their step or loop limit: look for a workflow changed recently and roll it back.',
        'FAILED: check the workflow engine logs and the external services the failing workflows call.',
        'The alert resolves by itself once the failure rate stays under the limit.',
      ],
    }),

    rule('mh-delivery-rate-drop', 'Message delivery rate dropped', 'warning', 'delivery_rate')
      .withQuery(metricsHub('A', catalog.query('delivery_rate'), HOUR))
      .withQuery(metricsHub('B', catalog.query('delivery_rate'), 7 * DAY, HOUR))
      .withQuery(reduce('C', 'A', 'last'))
      .withQuery(reduce('D', 'B', 'mean'))
      .withQuery(math('E', '$C < $D * 0.85'))
      .withQuery(threshold('F', 'E', 'gt', 0))
      .condition('F')
      .forDuration('15m')
      .annotations(
        annotations(
          'Delivery rate fell to {{ humanizePercentage $values.C.Value }} (7-day average {{ humanizePercentage $values.D.Value }})',
          'The share of sent messages that were delivered in the current hour is more than 15% below its average of the previous 7 days.',
          [
            'Open the Source: Metrics Hub events dashboard, panel "Delivery rate": is one channel affected or all?',
            'Check the messaging provider\'s status page and the delivery webhooks reaching POST /api/v1/events.',
            'A sudden drop for one agent usually means a blocked sender number or address: see Agent performance.',
          ],
        ),
      ),

    rule('mh-revenue-spike', 'Revenue spike', 'warning', 'order_value')
      .withQuery(metricsHub('A', catalog.query('order_value'), HOUR))
      .withQuery(metricsHub('B', catalog.query('order_value'), 7 * DAY, HOUR))
      .withQuery(reduce('C', 'A', 'last'))
      .withQuery(reduce('D', 'B', 'mean'))
      .withQuery(math('E', '$D > 0 && $C > $D * 3'))
      .withQuery(threshold('F', 'E', 'gt', 0))
      .condition('F')
      .forDuration('5m')
      .annotations(
        annotations(
          'Revenue this hour is {{ humanize $values.C.Value }}, over 3x the hourly average of {{ humanize $values.D.Value }}',
          'Order value in the current hour is more than three times the average hourly order value of the previous 7 days.',
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
      description: (limit, window) => `The 95th percentile response time of all bot responses over the last ${window} is above ${limit}.`,
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
