import React from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Combobox, InlineField, InlineFieldRow, RadioButtonGroup } from '@grafana/ui';

import { DataSource } from '../datasource';
import { MetricsHubOptions, MetricsHubQuery, MetricsHubVariableQuery, VariableQueryKind } from '../types';
import { parseVariableQuery, variableQueryProblem } from '../variables';
import { variableOptions, withCurrent } from './options';
import { QueryProblems } from './QueryProblems';
import { useCatalog } from './useCatalog';

type Props = QueryEditorProps<DataSource, MetricsHubQuery, MetricsHubOptions, MetricsHubVariableQuery>;

const KIND_OPTIONS: Array<{ label: string; value: VariableQueryKind; description: string }> = [
  { label: 'Metrics', value: 'metrics', description: 'Metric keys, optionally of one source' },
  { label: 'Sources', value: 'sources', description: 'Source ids' },
  { label: 'Dimensions', value: 'dimensions', description: 'Dimensions of a metric' },
  { label: 'Dimension values', value: 'dimension_values', description: 'Values of one dimension of a metric, e.g. bots or agents' },
];

const LABEL_WIDTH = 16;

// Variables saved before this editor, or written by hand as text, open as their parsed form.
function parseOrDefault(raw: MetricsHubVariableQuery | string | undefined, refId: string): MetricsHubVariableQuery {
  try {
    return raw && (typeof raw === 'string' || raw.query) ? parseVariableQuery(raw) : { refId, query: 'metrics' };
  } catch {
    return { refId, query: 'metrics' };
  }
}

export function VariableQueryEditor({ query: raw, onChange, datasource }: Props) {
  const { catalog } = useCatalog(datasource);
  const query = parseOrDefault(raw, raw?.refId ?? 'variable');
  const variables = variableOptions();
  const metric = catalog?.metrics.find((m) => m.key === query.metric);

  // Only the fields the chosen kind uses are kept, so the definition stays readable.
  const update = (changes: Partial<MetricsHubVariableQuery>) => {
    const merged = { ...query, ...changes };
    const next: MetricsHubVariableQuery = { refId: merged.refId, query: merged.query };
    if (merged.query === 'metrics' && merged.source) {
      next.source = merged.source;
    }
    if (merged.query === 'dimensions' || merged.query === 'dimension_values') {
      next.metric = merged.metric;
    }
    if (merged.query === 'dimension_values') {
      next.dimension = merged.dimension;
    }
    onChange(next);
  };

  const sourceOptions = (catalog?.sources ?? []).map((s) => ({ label: s.label, value: s.id }));
  const metricOptions = (catalog?.metrics ?? []).map((m) => ({ label: m.label, value: m.key, description: m.description }));
  const dimensionOptions = (metric?.dimensions ?? []).map((d) => ({ label: d, value: d }));
  const problem = variableQueryProblem(query);

  return (
    <>
      <InlineFieldRow>
        <InlineField label="Values of" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup options={KIND_OPTIONS} value={query.query} onChange={(kind) => update({ query: kind })} />
        </InlineField>
      </InlineFieldRow>
      {query.query === 'metrics' && (
        <InlineField label="Source" labelWidth={LABEL_WIDTH} htmlFor="mh-var-source" tooltip="Leave empty for the metrics of all sources">
          <Combobox
            id="mh-var-source"
            options={withCurrent([...sourceOptions, ...variables], query.source)}
            value={query.source ?? null}
            isClearable
            createCustomValue
            width={30}
            onChange={(option) => update({ source: option?.value })}
          />
        </InlineField>
      )}
      {(query.query === 'dimensions' || query.query === 'dimension_values') && (
        <InlineField label="Metric" labelWidth={LABEL_WIDTH} htmlFor="mh-var-metric">
          <Combobox
            id="mh-var-metric"
            options={withCurrent([...metricOptions, ...variables], query.metric)}
            value={query.metric ?? null}
            width={30}
            onChange={(option) => update({ metric: option.value })}
          />
        </InlineField>
      )}
      {query.query === 'dimension_values' && (
        <InlineField label="Dimension" labelWidth={LABEL_WIDTH} htmlFor="mh-var-dimension">
          <Combobox
            id="mh-var-dimension"
            options={withCurrent([...dimensionOptions, ...variables], query.dimension)}
            value={query.dimension ?? null}
            createCustomValue
            width={30}
            onChange={(option) => update({ dimension: option.value })}
          />
        </InlineField>
      )}
      <QueryProblems blocking={problem ? [problem] : []} warnings={[]} />
    </>
  );
}
