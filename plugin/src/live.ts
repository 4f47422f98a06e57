import { DataQueryRequest, DataQueryResponse, LiveChannelScope, StreamingFrameAction } from '@grafana/data';
import { getGrafanaLiveSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';

import { MetricsHubQuery } from './types';

/** Prefix the Go component's SubscribeStream and RunStream accept. */
export const LIVE_PATH_PREFIX = 'live/';

/**
 * The channel path of a set of metrics: live/<metric>/<metric>/... Grafana Live
 * accepts only [A-z0-9_-/=.] in a path (no commas) and a metric key never holds
 * "/", so each segment is one key. Sorted and without repeats, so panels that
 * watch the same metrics share one channel, and the Go component one stream.
 */
export function livePath(metrics: string[]): string {
  return LIVE_PATH_PREFIX + [...new Set(metrics)].sort().join('/');
}

/**
 * Subscribes a panel to the realtime counters of its live queries' metrics, all
 * through one Grafana Live channel: one field per metric in each frame. The
 * queries must already be interpolated: the metrics name the channel.
 */
export function liveStream(datasourceUid: string, queries: MetricsHubQuery[], request: DataQueryRequest<MetricsHubQuery>): Observable<DataQueryResponse> {
  const metrics = queries.map((q) => q.metric).filter((m): m is string => Boolean(m));
  return getGrafanaLiveSrv().getDataStream({
    key: `${request.requestId}-live`,
    addr: {
      scope: LiveChannelScope.DataSource,
      stream: datasourceUid,
      // Grafana 12.0 to 12.3 read the data source uid from `namespace`; later versions from `stream`.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      namespace: datasourceUid,
      path: livePath(metrics),
      data: { metrics },
    },
    buffer: {
      maxLength: request.maxDataPoints ?? 500,
      maxDelta: request.range.to.valueOf() - request.range.from.valueOf(),
      action: StreamingFrameAction.Append,
    },
  });
}
