import { useEffect, useState } from 'react';

import { DataSource } from '../datasource';
import { hasTemplateVariable } from '../query/templateSyntax';
import { VariableValue } from '../types';

/** One request per data source, metric and dimension while the page lives; a failure is retried next time. */
const cache = new Map<string, Promise<string[]>>();

function loadValues(datasource: DataSource, metric: string, dimension: string): Promise<string[]> {
  const key = JSON.stringify([datasource.uid, metric, dimension]);
  let values = cache.get(key);
  if (!values) {
    values = datasource
      .postResource<VariableValue[]>('variables', { query: 'dimension_values', metric, dimension })
      .then((answer) => answer.map((v) => v.value));
    values.catch(() => cache.delete(key));
    cache.set(key, values);
  }
  return values;
}

/**
 * The values the backend has seen for each dimension of a metric (POST
 * /api/v1/variables, dimension_values, last 30 days), for suggestions and hints.
 * A dimension whose values are not loaded (yet, or after an error) is absent.
 */
export function useDimensionValues(datasource: DataSource, metric: string | undefined, dimensions: string[]): Record<string, string[]> {
  const wanted = metric && !hasTemplateVariable(metric) ? dimensions.filter((d) => d && !hasTemplateVariable(d)) : [];
  const key = JSON.stringify([datasource.uid, metric, wanted]);
  // Values are kept with the key they were loaded for, so another metric never shows stale ones.
  const [loaded, setLoaded] = useState<{ key: string; values: Record<string, string[]> }>({ key, values: {} });

  useEffect(() => {
    let mounted = true;
    const [, forMetric, forDimensions] = JSON.parse(key) as [string, string, string[]];
    for (const dimension of forDimensions) {
      loadValues(datasource, forMetric, dimension).then(
        (values) =>
          mounted &&
          setLoaded((current) => ({ key, values: { ...(current.key === key ? current.values : {}), [dimension]: values } })),
        () => undefined
      );
    }
    return () => {
      mounted = false;
    };
  }, [datasource, key]);

  return loaded.key === key ? loaded.values : {};
}
