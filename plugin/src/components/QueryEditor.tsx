import React, { useEffect, useRef } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { EditorField, EditorRow, EditorRows, EditorSwitch } from '@grafana/plugin-ui';
import { Alert, Combobox, LinkButton, LoadingPlaceholder, MultiCombobox, RadioButtonGroup } from '@grafana/ui';

import { DataSource } from '../datasource';
import { completeFromCatalog, withGroupBy, withMetric, withSource } from '../query/changes';
import { catalogProblems, queryProblems } from '../query/validate';
import { hasTemplateVariable } from '../query/templateSyntax';
import { DEFAULT_FORMAT, DEFAULT_QUERY, MetricsHubOptions, MetricsHubQuery } from '../types';
import { FiltersEditor } from './FiltersEditor';
import { FORMAT_OPTIONS, aggregationOptions, dimensionOptions, metricOptions, variableOptions, withCurrent } from './options';
import { QueryProblems } from './QueryProblems';
import { NumberField, OrderByField, TextField } from './QueryFields';
import { useCatalog } from './useCatalog';
import { useDimensionValues } from './useDimensionValues';

type Props = QueryEditorProps<DataSource, MetricsHubQuery, MetricsHubOptions>;

const LEGEND_HELP =
  'Series names from a template: {{dimension}} is the series\' value of a group-by dimension, {{metric}} and {{aggregation}} come from the query. Example: {{botId}} p95';

/** An API key problem is fixed in the data source settings, so the error links there. */
const isAuthError = (message: string) => /api key|401|403|unauthori[sz]ed|forbidden/i.test(message);

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const { catalog, error } = useCatalog(datasource);
  const variables = variableOptions();
  const metric = catalog?.metrics.find((m) => m.key === query.metric);
  const format = query.format ?? DEFAULT_FORMAT;
  const known = useDimensionValues(datasource, metric?.key, metric?.dimensions ?? []);

  // Grafana's pickers may report one pick several times before the new query
  // comes back as a prop; the last query sent stops the repeats.
  const sent = useRef<string | undefined>(undefined);
  useEffect(() => {
    sent.current = undefined;
  }, [query]);

  /** Every change is one onChange and one run; a pick that changes nothing is neither. */
  const update = (next: MetricsHubQuery) => {
    const text = JSON.stringify(next);
    if (text === JSON.stringify(query) || text === sent.current) {
      return;
    }
    sent.current = text;
    onChange(next);
    onRunQuery();
  };

  // Once per catalog: a query on a metric this installation lacks, or without an
  // aggregation, is completed from the catalog's defaults.
  const completedFor = useRef<unknown>(undefined);
  useEffect(() => {
    if (!catalog || completedFor.current === catalog) {
      return;
    }
    completedFor.current = catalog;
    const completed = completeFromCatalog(query, catalog, DEFAULT_QUERY.metric);
    if (completed) {
      onChange(completed);
      onRunQuery();
    }
  }, [catalog, query, onChange, onRunQuery]);

  if (!catalog && !error) {
    return <LoadingPlaceholder text="Loading the Metrics Hub catalog…" />;
  }

  const dimensions = [...dimensionOptions(metric, (d) => known[d]), ...variables];
  const blocking = queryProblems(query);
  const warnings = catalog ? catalogProblems(query, catalog) : [];
  const timeseries = format === 'timeseries';

  return (
    <>
      {error && (
        <Alert severity="error" title="Cannot load the Metrics Hub catalog">
          {error}
          {isAuthError(error) && (
            <div style={{ marginTop: 8 }}>
              <LinkButton href={`/connections/datasources/edit/${datasource.uid}`} variant="secondary" size="sm" icon="cog">
                Open the data source settings to set the API key
              </LinkButton>
            </div>
          )}
        </Alert>
      )}
      <EditorRows>
        <EditorRow>
          <EditorField label="Metric" htmlFor="mh-metric" width={40} tooltip={metric?.description || 'Search the metrics of every source'}>
            <Combobox
              id="mh-metric"
              options={withCurrent([...(catalog ? metricOptions(catalog) : []), ...variables], query.metric)}
              value={query.metric ?? null}
              placeholder="Search metrics of every source"
              width={40}
              onChange={(option) => update(withMetric(query, option.value, catalog))}
            />
          </EditorField>
          {query.source && hasTemplateVariable(query.source) && (
            <EditorField label="Source" htmlFor="mh-source" tooltip="The source comes from a dashboard variable">
              <Combobox
                id="mh-source"
                options={withCurrent([...(catalog?.sources ?? []).map((s) => ({ label: s.label, value: s.id })), ...variables], query.source)}
                value={query.source}
                width={20}
                onChange={(option) => update(withSource(query, option.value, catalog))}
              />
            </EditorField>
          )}
          {!query.live && format !== 'list' && metric && (
            <EditorField
              label="Aggregation"
              htmlFor="mh-aggregation"
              tooltip={`How the events of each time bucket combine into one value; ${metric.label} defaults to ${metric.defaultAggregation}`}
            >
              <Combobox
                id="mh-aggregation"
                options={withCurrent(aggregationOptions(metric), query.aggregation)}
                value={query.aggregation ?? metric.defaultAggregation}
                width={20}
                onChange={(option) => update({ ...query, aggregation: option.value })}
              />
            </EditorField>
          )}
          <EditorField label="Live" htmlFor="mh-live" tooltip="Stream the metric's realtime counters (events in the last 60 seconds, or the metric's own live window, e.g. an hour for per-hour figures) instead of querying the time range">
            <EditorSwitch id="mh-live" value={Boolean(query.live)} onChange={(e) => update({ ...query, live: e.currentTarget.checked })} />
          </EditorField>
        </EditorRow>
        {!query.live && (
          <>
            <EditorRow>
              <EditorField label="Format" tooltip={FORMAT_OPTIONS.map((o) => `${o.label}: ${o.description}`).join('. ')}>
                <RadioButtonGroup options={FORMAT_OPTIONS} value={format} onChange={(next) => update({ ...query, format: next, rolling: next === 'timeseries' || next === 'table' ? query.rolling : undefined })} />
              </EditorField>
              {(timeseries || format === 'table') && (
                <EditorField label="Group by" htmlFor="mh-group-by" optional tooltip="One series (or table row) per value of these dimensions">
                  <MultiCombobox
                    id="mh-group-by"
                    options={dimensions}
                    value={query.groupBy ?? []}
                    placeholder="dimensions"
                    width="auto"
                    minWidth={24}
                    maxWidth={60}
                    onChange={(options) => update(withGroupBy(query, options.map((o) => o.value)))}
                  />
                </EditorField>
              )}
              {timeseries && (
                <EditorField label="Compare to previous period" htmlFor="mh-compare" tooltip="Adds the same series one period earlier, shifted onto this range">
                  <EditorSwitch
                    id="mh-compare"
                    value={Boolean(query.compareToPrevious)}
                    onChange={(e) => update({ ...query, compareToPrevious: e.currentTarget.checked })}
                  />
                </EditorField>
              )}
              {(timeseries || format === 'table') && (
                <EditorField
                  label="Rolling window"
                  htmlFor="mh-rolling"
                  tooltip="Exactly the time range, to the minute, from raw events: one value per series at its end (at most 24 h). For alert rules on the last N minutes; off, whole hourly buckets are read"
                >
                  <EditorSwitch id="mh-rolling" value={Boolean(query.rolling)} onChange={(e) => update({ ...query, rolling: e.currentTarget.checked || undefined })} />
                </EditorField>
              )}
              {timeseries && (
                <TextField
                  id="mh-legend"
                  label="Legend"
                  tooltip={LEGEND_HELP}
                  placeholder={`{{${query.groupBy?.[0] ?? 'metric'}}} ${query.aggregation ?? ''}`.trim()}
                  value={query.legend}
                  onCommit={(legend) => update({ ...query, legend: legend || undefined })}
                />
              )}
            </EditorRow>
            {format === 'table' && (
              <EditorRow>
                <OrderByField query={query} onChange={update} />
                <NumberField
                  id="mh-limit"
                  label="Limit"
                  tooltip="Keep only the first N rows in this order (1 to 1000); empty keeps every row"
                  value={query.limit}
                  placeholder="all rows"
                  onCommit={(limit) => update({ ...query, limit })}
                />
              </EditorRow>
            )}
            {format === 'list' && (
              <EditorRow>
                <EditorField label="Columns" htmlFor="mh-columns" optional tooltip="Event attributes shown beside the time and the value">
                  <MultiCombobox
                    id="mh-columns"
                    options={dimensions}
                    value={query.columns ?? []}
                    placeholder="all attributes"
                    width="auto"
                    minWidth={24}
                    maxWidth={60}
                    onChange={(options) => update({ ...query, columns: options.map((o) => o.value) })}
                  />
                </EditorField>
                <NumberField
                  id="mh-limit"
                  label="Limit"
                  tooltip="How many of the most recent events to list (1 to 1000, default 50)"
                  value={query.limit}
                  placeholder="50"
                  onCommit={(limit) => update({ ...query, limit })}
                />
              </EditorRow>
            )}
            <EditorRow>
              <FiltersEditor
                filters={query.filters ?? []}
                dimensions={dimensions}
                knownValues={known}
                variables={variables}
                onChange={(filters) => update({ ...query, filters })}
              />
            </EditorRow>
          </>
        )}
      </EditorRows>
      <QueryProblems blocking={blocking} warnings={warnings} />
    </>
  );
}
