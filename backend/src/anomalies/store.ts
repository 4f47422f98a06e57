import type { Pool, PoolClient } from '../db/pool.js';
import type { Severity } from './detectors/types.js';
import type { AlertState, StateRecord, TransitionTarget } from './state-machine.js';

/** One series' evaluation outcome, ready to be stored. */
export interface EvaluatedSeries {
  seriesKey: string;
  labels: Record<string, string>;
  severity: Severity;
  value: number | null;
  expected: number | null;
  message: string;
  recommendation: string;
}

export interface StoredState extends StateRecord {
  seriesKey: string;
  lastEvaluatedAt: number;
}

/** Canonical series key: labels sorted by name, so the same series always gets the same key. */
export function seriesKeyOf(labels: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/**
 * Takes the (organization, rule) lock for this transaction. With several
 * backend processes (or a retried job overlapping the original), only one
 * evaluates a rule for an organization at a time; the others skip.
 */
export async function tryLockRule(client: PoolClient, organizationId: string, ruleId: string): Promise<boolean> {
  const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS locked', [organizationId, ruleId]);
  return result.rows[0]!.locked;
}

export async function loadStates(client: PoolClient, organizationId: string, ruleId: string): Promise<Map<string, StoredState>> {
  const result = await client.query<{
    series_key: string;
    state: AlertState;
    severity: Severity;
    state_since: Date;
    clear_since: Date | null;
    firing_since: Date | null;
    last_evaluated_at: Date;
  }>(
    `SELECT series_key, state, severity, state_since, clear_since, firing_since, last_evaluated_at
     FROM alert_states WHERE organization_id = $1 AND rule_id = $2 FOR UPDATE`,
    [organizationId, ruleId],
  );
  return new Map(
    result.rows.map((row) => [
      row.series_key,
      {
        seriesKey: row.series_key,
        state: row.state,
        severity: row.severity,
        stateSince: row.state_since.getTime(),
        clearSince: row.clear_since?.getTime() ?? null,
        firingSince: row.firing_since?.getTime() ?? null,
        lastEvaluatedAt: row.last_evaluated_at.getTime(),
      },
    ]),
  );
}

export async function saveState(
  client: PoolClient,
  organizationId: string,
  ruleId: string,
  metric: string,
  at: number,
  series: EvaluatedSeries,
  record: StateRecord,
): Promise<void> {
  await client.query(
    `INSERT INTO alert_states (organization_id, rule_id, series_key, metric, labels, state, severity, state_since, clear_since, firing_since,
                               last_evaluated_at, last_value, expected, message, recommendation)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (organization_id, rule_id, series_key) DO UPDATE SET
       state = EXCLUDED.state, severity = EXCLUDED.severity, state_since = EXCLUDED.state_since, clear_since = EXCLUDED.clear_since,
       firing_since = EXCLUDED.firing_since, last_evaluated_at = EXCLUDED.last_evaluated_at, last_value = EXCLUDED.last_value,
       expected = EXCLUDED.expected, message = EXCLUDED.message, recommendation = EXCLUDED.recommendation`,
    [
      organizationId,
      ruleId,
      series.seriesKey,
      metric,
      series.labels,
      record.state,
      record.severity,
      new Date(record.stateSince),
      record.clearSince === null ? null : new Date(record.clearSince),
      record.firingSince === null ? null : new Date(record.firingSince),
      new Date(at),
      series.value,
      series.expected,
      series.message,
      series.recommendation,
    ],
  );
}

/** Records a transition; the unique key makes a second record of the same tick a no-op. */
export async function recordTransition(
  client: PoolClient,
  organizationId: string,
  ruleId: string,
  metric: string,
  at: number,
  series: EvaluatedSeries,
  transition: { from: AlertState; to: TransitionTarget; severity: Severity },
): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO alert_transitions (organization_id, rule_id, series_key, metric, labels, from_state, to_state, severity, evaluated_at, value, expected, message, recommendation)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (organization_id, rule_id, series_key, evaluated_at, to_state) DO NOTHING`,
    [organizationId, ruleId, series.seriesKey, metric, series.labels, transition.from, transition.to, transition.severity, new Date(at), series.value, series.expected, series.message, series.recommendation],
  );
  return (result.rowCount ?? 0) > 0;
}

export interface AlertRow {
  rule: string;
  metric: string;
  labels: Record<string, string>;
  state: AlertState;
  severity: Severity;
  since: string;
  firingSince: string | null;
  lastEvaluatedAt: string;
  value: number | null;
  expected: number | null;
  message: string | null;
  recommendation: string | null;
}

export async function listAlerts(pool: Pool, organizationId: string, states: AlertState[]): Promise<AlertRow[]> {
  const result = await pool.query<AlertRow>(
    `SELECT rule_id AS rule, metric, labels, state, severity, state_since AS since, firing_since AS "firingSince",
            last_evaluated_at AS "lastEvaluatedAt", last_value AS value, expected, message, recommendation
     FROM alert_states WHERE organization_id = $1 AND state = ANY($2::text[])
     ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, state_since DESC`,
    [organizationId, states],
  );
  return result.rows;
}

export interface TransitionRow {
  id: string;
  rule: string;
  metric: string;
  labels: Record<string, string>;
  from: AlertState;
  to: TransitionTarget;
  severity: Severity;
  at: Date;
  endAt: Date | null;
  value: number | null;
  expected: number | null;
  message: string;
  recommendation: string | null;
}

/**
 * Transitions recorded in [from, to), oldest first. A firing transition carries
 * the time its alert resolved (if it has), so it shows as a region in Grafana.
 */
export async function listTransitions(
  pool: Pool,
  organizationId: string,
  range: { from: Date; to: Date },
  filter: { metric?: string; severity?: Severity; limit: number },
): Promise<TransitionRow[]> {
  const result = await pool.query<TransitionRow>(
    `SELECT t.id::text AS id, t.rule_id AS rule, t.metric, t.labels, t.from_state AS "from", t.to_state AS "to", t.severity, t.evaluated_at AS at,
            CASE WHEN t.to_state = 'firing' THEN (
              SELECT min(r.evaluated_at) FROM alert_transitions r
              WHERE r.organization_id = t.organization_id AND r.rule_id = t.rule_id AND r.series_key = t.series_key
                AND r.to_state = 'resolved' AND r.evaluated_at > t.evaluated_at) END AS "endAt",
            t.value, t.expected, t.message, t.recommendation
     FROM alert_transitions t
     WHERE t.organization_id = $1 AND t.evaluated_at >= $2 AND t.evaluated_at < $3
       AND ($4::text IS NULL OR t.metric = $4) AND ($5::text IS NULL OR t.severity = $5)
     ORDER BY t.evaluated_at, t.id
     LIMIT $6`,
    [organizationId, range.from, range.to, filter.metric ?? null, filter.severity ?? null, filter.limit],
  );
  return result.rows;
}
