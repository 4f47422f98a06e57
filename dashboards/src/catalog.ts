import { loadRules, type MetricRule } from '../../backend/src/anomalies/rules.js';
import { loadCatalog, suggestMetric, type Catalog } from '../../backend/src/catalog/load.js';
import type { CatalogMetric } from '../../backend/src/catalog/schema.js';
import { MetricsHubQueryBuilder, type Aggregation, type QueryOptions } from './query.js';
import { severityOf, type Severity } from './thresholds.js';

/**
 * The metric catalog as the generator sees it: every query a dashboard or an
 * alert rule asks for is checked here first, so a panel can never name a
 * metric, an aggregation or a dimension the backend would reject.
 */
export class CatalogQueries {
  private readonly severities = new Map<string, Severity>();
  private readonly rules: MetricRule[];

  constructor(readonly catalog: Catalog = loadCatalog()) {
    this.rules = loadRules(catalog);
    for (const { metric, rule } of this.rules) {
      if (rule.type === 'threshold' && !this.severities.has(metric.key)) this.severities.set(metric.key, severityOf(rule));
    }
  }

  /** The limits of the metric's threshold anomaly rule, which judges its default aggregation; none without such a rule. */
  severity(key: string): Severity | undefined {
    return this.severities.get(key);
  }

  /** A catalog anomaly rule by id; a generator naming a rule the catalog lacks fails here. */
  rule(id: string): MetricRule {
    const found = this.rules.find((one) => one.rule.id === id);
    if (!found) throw new Error(`dashboards: no anomaly rule '${id}' in ${this.catalog.file} (rules: ${this.rules.map((one) => one.rule.id).join(', ')})`);
    return found;
  }

  has(key: string): boolean {
    return this.catalog.metric(key) !== undefined;
  }

  metric(key: string): CatalogMetric {
    const metric = this.catalog.metric(key);
    if (!metric) throw new Error(`dashboards: metric '${key}' is not in ${this.catalog.file}${suggestMetric(this.catalog, key)}`);
    return metric;
  }

  /** The first of `dimensions` that the metric declares, for panels that accept any of several names. */
  dimension(key: string, ...dimensions: string[]): string | undefined {
    const declared = this.metric(key).dimensions;
    return dimensions.find((dimension) => declared.includes(dimension));
  }

  query(key: string, options: QueryOptions = {}): MetricsHubQueryBuilder {
    const metric = this.metric(key);
    const aggregation: Aggregation = options.aggregation ?? metric.defaultAggregation;
    if (!metric.aggregations.includes(aggregation)) {
      throw new Error(`dashboards: metric '${key}' does not allow aggregation '${aggregation}' (allowed: ${metric.aggregations.join(', ')})`);
    }
    const dimensions = [...(options.groupBy ?? []), ...(options.filters ?? []).map((filter) => filter.dimension)];
    const unknown = dimensions.filter((dimension) => !metric.dimensions.includes(dimension));
    if (unknown.length > 0) {
      throw new Error(`dashboards: metric '${key}' has no dimension ${unknown.join(', ')} (declared: ${metric.dimensions.join(', ') || 'none'})`);
    }
    return new MetricsHubQueryBuilder(metric.source, key, aggregation, options);
  }
}
