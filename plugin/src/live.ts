import { DataQueryRequest, DataQueryResponse, LiveChannelScope, StreamingFrameAction } from '@grafana/data';
import { getGrafanaLiveSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';

import { MetricsHubQuery } from './types';

/** Prefix the Go component's SubscribeStream and RunStream accept: live/<metric>. */
export const LIVE_PATH_PREFIX = 'live/';

/**
 * Subscribes a panel to the realtime counters of its metric through Grafana Live.
 * The Go component runs one stream per channel, however many panels watch it.
 * The query must already be interpolated: the metric names the channel.
 */
export function liveStream(datasourceUid: string, query: MetricsHubQuery, request: DataQueryRequest<MetricsHubQuery>): Observable<DataQueryResponse> {
  return getGrafanaLiveSrv().getDataStream({
    key: `${request.requestId}-${query.refId}`,
    addr: {
      scope: LiveChannelScope.DataSource,
      stream: datasourceUid,
      // Grafana 12.0 to 12.3 read the data source uid from `namespace`; later versions from `stream`.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      namespace: datasourceUid,
      path: `${LIVE_PATH_PREFIX}${query.metric}`,
      data: { ...query },
    },
    buffer: {
      maxLength: request.maxDataPoints ?? 500,
      maxDelta: request.range.to.valueOf() - request.range.from.valueOf(),
      action: StreamingFrameAction.Append,
    },
  });
}
