import { BackendSrv, BackendSrvRequest, FetchError, FetchResponse, setBackendSrv } from '@grafana/runtime';
import { Observable, of, throwError } from 'rxjs';

/** A request as it left the data source for Grafana's server. */
export interface RecordedRequest {
  method: string;
  url: string;
  params?: Record<string, unknown>;
  data?: unknown;
  headers?: Record<string, string>;
}

/** What a route answers: a JSON body, or an HTTP error with its JSON body. */
export type Answer = { status?: number; body: unknown };
type Handler = (request: RecordedRequest) => Answer;

/**
 * Stands in for Grafana's HTTP client, the boundary between the plugin and
 * Grafana's server, so the real DataSourceWithBackend code runs unchanged.
 * Routes are "METHOD /path"; an unknown route fails the test loudly.
 */
export function installBackendSrv(routes: Record<string, Handler>): RecordedRequest[] {
  const requests: RecordedRequest[] = [];
  const fetch = <T>(options: BackendSrvRequest): Observable<FetchResponse<T>> => {
    const request: RecordedRequest = {
      method: options.method ?? 'GET',
      url: options.url,
      params: options.params,
      data: options.data,
      headers: options.headers,
    };
    requests.push(request);
    const path = options.url.split('?')[0];
    const handler = routes[`${request.method} ${path}`];
    if (!handler) {
      return throwError(() => new Error(`no route for ${request.method} ${path}`));
    }
    const { status = 200, body } = handler(request);
    if (status >= 400) {
      const error: FetchError = { status, data: body, statusText: 'error', config: { url: options.url } };
      return throwError(() => error);
    }
    return of({
      data: body as T,
      status,
      statusText: 'OK',
      ok: true,
      headers: new Headers(),
      redirected: false,
      type: 'basic',
      url: options.url,
      config: options,
    });
  };
  const unused = () => Promise.reject(new Error('the plugin must go through fetch'));
  const srv: BackendSrv = {
    fetch,
    get: unused,
    post: unused,
    put: unused,
    patch: unused,
    delete: unused,
    request: unused,
    datasourceRequest: unused,
    chunked: () => throwError(() => new Error('the plugin must go through fetch')),
  };
  setBackendSrv(srv);
  return requests;
}
