/**
 * A page that mounts one of the plugin's editors with the real @grafana/ui, as
 * Grafana's query row, data source settings, variable and annotation pages do,
 * for the browser test (backend/test/plugin-browser.test.ts). Grafana's HTTP
 * client is window.fetch against the test's server, which forwards resource
 * calls and /api/ds/query to a real Metrics Hub backend.
 *
 * URL parameters: editor=query|config|variable|annotation, query=<JSON>,
 * options=<JSON> (config editor jsonData). What the editor reports is kept in
 * window.metricsHub for the test to read.
 */
import React, { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { DataSourceSettings, dateTime, getDefaultTimeRange, ThemeContext, createTheme } from '@grafana/data';
import { BackendSrv, BackendSrvRequest, FetchResponse, setBackendSrv } from '@grafana/runtime';
import { GlobalStyles } from '@grafana/ui';
import { Observable } from 'rxjs';

import { AnnotationQueryEditor } from '../../components/AnnotationQueryEditor';
import { ConfigEditor } from '../../components/ConfigEditor';
import { QueryEditor } from '../../components/QueryEditor';
import { VariableQueryEditor } from '../../components/VariableQueryEditor';
import { MetricsHubOptions, MetricsHubQuery, MetricsHubSecureJsonData, MetricsHubVariableQuery } from '../../types';
import { createDataSource, dataSourceSettings } from '../fixtures';
import { installTemplateSrv } from '../templateSrv';

interface Recorded {
  /** Every query the editor handed to onChange, in order. */
  changes: unknown[];
  /** How often the editor called onRunQuery. */
  runs: number;
  /** The query as the editor last left it. */
  query: unknown;
  /** Errors of the queries that ran (Grafana would show them on the panel). */
  queryErrors: string[];
  ready: boolean;
}

declare global {
  interface Window {
    metricsHub: Recorded;
  }
}

window.metricsHub = { changes: [], runs: 0, query: undefined, queryErrors: [], ready: false };

/** Grafana's HTTP client, reduced to fetch: what DataSourceWithBackend and getResource use. */
function installFetchBackendSrv() {
  const fetchJson = <T,>(options: BackendSrvRequest): Observable<FetchResponse<T>> =>
    new Observable((subscriber) => {
      const url = new URL(options.url, window.location.origin);
      for (const [key, value] of Object.entries(options.params ?? {})) {
        url.searchParams.set(key, String(value));
      }
      const method = options.method ?? 'GET';
      window
        .fetch(url, {
          method,
          headers: { 'content-type': 'application/json', ...options.headers },
          body: method === 'GET' ? undefined : JSON.stringify(options.data ?? {}),
        })
        .then(async (response) => {
          const data = (await response.json()) as T;
          if (!response.ok) {
            subscriber.error({ status: response.status, statusText: response.statusText, data, config: options });
            return;
          }
          subscriber.next({ data, status: response.status, statusText: response.statusText, ok: true, headers: response.headers, redirected: false, type: 'basic', url: url.toString(), config: options });
          subscriber.complete();
        }, (error: unknown) => subscriber.error(error));
    });
  // The plugin goes through fetch only; any other method would fail loudly as undefined.
  const srv = { fetch: fetchJson } as Partial<BackendSrv> as BackendSrv;
  setBackendSrv(srv);
}

const params = new URLSearchParams(window.location.search);
const datasource = createDataSource();

/** The query row of a panel: runs the query as Grafana's query runner does, skipping what filterQuery rejects. */
function QueryRow() {
  const [query, setQuery] = useState<MetricsHubQuery>(() => ({ refId: 'A', ...JSON.parse(params.get('query') ?? '{}') }));
  const latest = useRef(query);
  useEffect(() => {
    window.metricsHub.query = query;
  }, [query]);
  const onChange = (next: MetricsHubQuery) => {
    window.metricsHub.changes.push(next);
    latest.current = next;
    window.metricsHub.query = next;
    setQuery(next);
  };
  const onRunQuery = () => {
    window.metricsHub.runs++;
    const target = latest.current;
    if (!datasource.filterQuery(target)) {
      return;
    }
    const range = getDefaultTimeRange();
    range.from = dateTime().subtract(2, 'day');
    datasource
      .query({
        requestId: `run-${window.metricsHub.runs}`,
        interval: '1h',
        intervalMs: 3_600_000,
        maxDataPoints: 500,
        range,
        scopedVars: {},
        targets: [target],
        timezone: 'utc',
        app: 'dashboard',
        startTime: Date.now(),
      })
      .subscribe((response) => {
        for (const error of response.errors ?? []) {
          window.metricsHub.queryErrors.push(error.message ?? JSON.stringify(error));
        }
      });
  };
  return <QueryEditor query={query} datasource={datasource} onChange={onChange} onRunQuery={onRunQuery} />;
}

function ConfigPage() {
  const [options, setOptions] = useState<DataSourceSettings<MetricsHubOptions, MetricsHubSecureJsonData>>(() => ({
    ...dataSourceSettings(),
    jsonData: JSON.parse(params.get('options') ?? '{}'),
    secureJsonFields: {},
  }));
  const onOptionsChange = (next: DataSourceSettings<MetricsHubOptions, MetricsHubSecureJsonData>) => {
    // The URL lives in the standard top-level field; the rest in jsonData.
    const reported = { ...next.jsonData, url: next.url };
    window.metricsHub.changes.push(reported);
    window.metricsHub.query = reported;
    setOptions(next);
  };
  return <ConfigEditor options={options} onOptionsChange={onOptionsChange} />;
}

/** The variable page: the editor, then Grafana's "Preview of values" from metricFindQuery. */
function VariablePage() {
  const [query, setQuery] = useState<MetricsHubVariableQuery>(() => JSON.parse(params.get('query') ?? '{"refId":"V","query":"metrics"}'));
  const [preview, setPreview] = useState<string[]>([]);
  useEffect(() => {
    datasource.metricFindQuery(query).then(
      (values) => setPreview(values.map((v) => String(v.text))),
      (error: Error) => setPreview([`error: ${error.message}`])
    );
  }, [query]);
  const onChange = (next: MetricsHubVariableQuery) => {
    window.metricsHub.changes.push(next);
    window.metricsHub.query = next;
    setQuery(next);
  };
  return (
    <>
      <VariableQueryEditor query={query as never} datasource={datasource} onChange={onChange as never} onRunQuery={() => window.metricsHub.runs++} />
      <h6 style={{ marginTop: 16 }}>Preview of values</h6>
      <ul aria-label="Preview of values">
        {preview.map((value) => (
          <li key={value}>{value}</li>
        ))}
      </ul>
    </>
  );
}

function AnnotationPage() {
  const [query, setQuery] = useState<MetricsHubQuery>(() => ({ refId: 'Anno', ...JSON.parse(params.get('query') ?? '{}') }));
  const onChange = (next: MetricsHubQuery) => {
    window.metricsHub.changes.push(next);
    window.metricsHub.query = next;
    setQuery(next);
  };
  return <AnnotationQueryEditor query={query} datasource={datasource} onChange={onChange} onRunQuery={() => window.metricsHub.runs++} />;
}

const PAGES: Record<string, () => React.JSX.Element> = { query: QueryRow, config: ConfigPage, variable: VariablePage, annotation: AnnotationPage };

installFetchBackendSrv();
installTemplateSrv([{ name: 'channel', options: ['webchat', 'whatsapp'], current: 'webchat' }]);
const theme = createTheme({ colors: { mode: 'dark' } });
const Page = PAGES[params.get('editor') ?? 'query'];
createRoot(document.getElementById('root')!).render(
  <ThemeContext.Provider value={theme}>
    <GlobalStyles />
    <main id="editor" style={{ padding: 16, width: 1100 }}>
      <Page />
    </main>
  </ThemeContext.Provider>
);
window.metricsHub.ready = true;
