import React from 'react';
import { AnnotationQuery, QueryEditorProps } from '@grafana/data';
import { Combobox, InlineField, InlineFieldRow } from '@grafana/ui';

import { DataSource } from '../datasource';
import { MetricsHubOptions, MetricsHubQuery, SEVERITIES } from '../types';
import { metricOptions, variableOptions, withCurrent } from './options';
import { useCatalog } from './useCatalog';

type Props = QueryEditorProps<DataSource, MetricsHubQuery, MetricsHubOptions> & {
  annotation?: AnnotationQuery<MetricsHubQuery>;
  onAnnotationChange?: (annotation: AnnotationQuery<MetricsHubQuery>) => void;
};

const SEVERITY_OPTIONS = SEVERITIES.map((s) => ({ label: s, value: s }));

/** Chooses which anomalies become annotations: of one metric or all, of one severity or all. */
export function AnnotationQueryEditor({ query, onChange, datasource }: Props) {
  const { catalog } = useCatalog(datasource);
  const variables = variableOptions();

  return (
    <InlineFieldRow>
      <InlineField label="Metric" labelWidth={14} htmlFor="mh-anno-metric" tooltip="Leave empty for the anomalies of every metric">
        <Combobox
          id="mh-anno-metric"
          options={withCurrent([...(catalog ? metricOptions(catalog) : []), ...variables], query.metric)}
          value={query.metric ?? null}
          isClearable
          placeholder="all metrics"
          width={32}
          onChange={(option) => onChange({ ...query, metric: option?.value })}
        />
      </InlineField>
      <InlineField label="Severity" labelWidth={14} htmlFor="mh-anno-severity" tooltip="Leave empty for warnings and critical alerts">
        <Combobox
          id="mh-anno-severity"
          options={withCurrent([...SEVERITY_OPTIONS, ...variables], query.severity)}
          value={query.severity ?? null}
          isClearable
          placeholder="all severities"
          width={20}
          onChange={(option) => onChange({ ...query, severity: option?.value })}
        />
      </InlineField>
    </InlineFieldRow>
  );
}
