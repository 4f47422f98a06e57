import React, { useEffect } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Alert, Combobox, ComboboxOption, InlineField, InlineFieldRow, InlineSwitch, MultiCombobox, RadioButtonGroup } from '@grafana/ui';

import { DataSource } from '../datasource';
import { completeFromCatalog, withMetric, withSource } from '../query/changes';
import { catalogProblems, queryProblems } from '../query/validate';
import { hasTemplateVariable } from '../query/templateSyntax';
import { AGGREGATIONS, Catalog, DEFAULT_QUERY, MetricsHubOptions, MetricsHubQuery } from '../types';
import { FiltersEditor } from './FiltersEditor';
import { FORMAT_OPTIONS, variableOptions, withCurrent } from './options';
import { QueryProblems } from './QueryProblems';
import { useCatalog } from './useCatalog';

type Props = QueryEditorProps<DataSource, MetricsHubQuery, MetricsHubOptions>;

const LABEL_WIDTH = 14;

function metricOptions(catalog: Catalog | undefined, source?: string): ComboboxOption[] {
  const bySource = !source || hasTemplateVariable(source);
  return (catalog?.metrics ?? [])
    .filter((m) => bySource || m.source === source)
    .map((m) => ({
      label: m.label,
      value: m.key,
      description: [m.description, m.unit && `unit: ${m.unit}`].filter(Boolean).join(' · '),
    }));
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const { catalog, error } = useCatalog(datasource);
  const variables = variableOptions();
  const metric = catalog?.metrics.find((m) => m.key === query.metric);

  const update = (next: MetricsHubQuery, run = true) => {
    onChange(next);
    if (run) {
      onRunQuery();
    }
  };

  useEffect(() => {
    const completed = catalog && completeFromCatalog(query, catalog, DEFAULT_QUERY.metric);
    if (completed) {
      onChange(completed);
      onRunQuery();
    }
  }, [catalog, query, onChange, onRunQuery]);

  const sourceOptions = (catalog?.sources ?? []).map((s) => ({
    label: s.label,
    value: s.id,
    description: s.status === 'up' ? s.type : `${s.type}, ${s.status}${s.lastError ? `: ${s.lastError}` : ''}`,
  }));
  const aggregationOptions = (metric?.aggregations ?? [...AGGREGATIONS]).map((a) => ({ label: a, value: a }));
  const dimensionOptions = [...(metric?.dimensions ?? []).map((d) => ({ label: d, value: d })), ...variables];
  const problems = [...queryProblems(query), ...(catalog ? catalogProblems(query, catalog) : [])];

  return (
    <>
      {error && (
        <Alert severity="error" title="Cannot load the Metrics Hub catalog">
          {error}
        </Alert>
      )}
      <InlineFieldRow>
        <InlineField label="Source" labelWidth={LABEL_WIDTH} htmlFor="mh-source">
          <Combobox
            id="mh-source"
            options={withCurrent([...sourceOptions, ...variables], query.source)}
            value={query.source ?? null}
            createCustomValue
            width={24}
            onChange={(option) => update(withSource(query, option.value, catalog))}
          />
        </InlineField>
        <InlineField label="Metric" labelWidth={LABEL_WIDTH} htmlFor="mh-metric" tooltip={metric?.description}>
          <Combobox
            id="mh-metric"
            options={withCurrent([...metricOptions(catalog, query.source), ...variables], query.metric)}
            value={query.metric ?? null}
            createCustomValue
            width={32}
            onChange={(option) => update(withMetric(query, option.value, catalog))}
          />
        </InlineField>
        {!query.live && (
          <InlineField label="Aggregation" labelWidth={LABEL_WIDTH} htmlFor="mh-aggregation">
            <Combobox
              id="mh-aggregation"
              options={withCurrent([...aggregationOptions, ...variables], query.aggregation)}
              value={query.aggregation ?? null}
              createCustomValue
              width={16}
              onChange={(option) => update({ ...query, aggregation: option.value })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      {!query.live && (
        <>
          <InlineFieldRow>
            <InlineField label="Group by" labelWidth={LABEL_WIDTH} htmlFor="mh-group-by" grow>
              <MultiCombobox
                id="mh-group-by"
                options={dimensionOptions}
                value={query.groupBy ?? []}
                createCustomValue
                onChange={(options) => update({ ...query, groupBy: options.map((o) => o.value) })}
              />
            </InlineField>
          </InlineFieldRow>
          <FiltersEditor
            filters={query.filters ?? []}
            dimensions={dimensionOptions}
            onChange={(filters, run) => update({ ...query, filters }, run)}
          />
          <InlineFieldRow>
            <InlineField label="Format" labelWidth={LABEL_WIDTH}>
              <RadioButtonGroup
                options={FORMAT_OPTIONS}
                value={query.format}
                onChange={(format) => update({ ...query, format })}
              />
            </InlineField>
            <InlineField label="Compare to previous period" htmlFor="mh-compare">
              <InlineSwitch
                id="mh-compare"
                value={Boolean(query.compareToPrevious)}
                onChange={(e) => update({ ...query, compareToPrevious: e.currentTarget.checked })}
              />
            </InlineField>
          </InlineFieldRow>
        </>
      )}
      <InlineFieldRow>
        <InlineField
          label="Live"
          labelWidth={LABEL_WIDTH}
          htmlFor="mh-live"
          tooltip="Stream the metric's realtime counters (events in the last 60 seconds) instead of querying the time range"
        >
          <InlineSwitch
            id="mh-live"
            value={Boolean(query.live)}
            onChange={(e) => update({ ...query, live: e.currentTarget.checked, format: 'timeseries', compareToPrevious: false })}
          />
        </InlineField>
      </InlineFieldRow>
      <QueryProblems problems={problems} />
    </>
  );
}
