#!/usr/bin/env bash
# Re-records the recorded_*.json fixtures from a running Metrics Hub backend.
# Usage: METRICSHUB_E2E_URL=http://127.0.0.1:4100 METRICSHUB_E2E_KEY=<key> bash record.sh
# Use an organization of its own: the events below are ingested into it (idempotently,
# so running this twice records the same numbers).
set -euo pipefail
cd "$(dirname "$0")"
url="${METRICSHUB_E2E_URL:?set METRICSHUB_E2E_URL}"
key="${METRICSHUB_E2E_KEY:?set METRICSHUB_E2E_KEY}"

call() { # method path [body]
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$url$2"
}

# The data set the tests assert on (product "fixture", 2026-11-01 00:00 to 02:00 UTC):
#   00:05 web 10, 00:20 web 20, 00:40 mobile 5, 01:05 web 7.5, 01:30 mobile 2.5
call POST /api/v1/events '{"events":[
 {"id":"fixture-1","type":"order.created","occurredAt":"2026-11-01T00:05:00Z","value":10,"attributes":{"channel":"web","product":"fixture"}},
 {"id":"fixture-2","type":"order.created","occurredAt":"2026-11-01T00:20:00Z","value":20,"attributes":{"channel":"web","product":"fixture"}},
 {"id":"fixture-3","type":"order.created","occurredAt":"2026-11-01T00:40:00Z","value":5,"attributes":{"channel":"mobile","product":"fixture"}},
 {"id":"fixture-4","type":"order.created","occurredAt":"2026-11-01T01:05:00Z","value":7.5,"attributes":{"channel":"web","product":"fixture"}},
 {"id":"fixture-5","type":"order.created","occurredAt":"2026-11-01T01:30:00Z","value":2.5,"attributes":{"channel":"mobile","product":"fixture"}}
]}' >/dev/null

only='[{"dimension":"product","op":"eq","value":"fixture"}]'
range='"from":"2026-11-01T00:00:00Z","to":"2026-11-01T02:00:00Z"'

call POST /api/v1/query "{$range,\"intervalMs\":3600000,\"maxDataPoints\":100,\"queries\":[
 {\"refId\":\"A\",\"metric\":\"order_value\",\"aggregation\":\"sum\",\"groupBy\":[\"channel\"],\"filters\":$only,\"format\":\"timeseries\"},
 {\"refId\":\"B\",\"metric\":\"ordrs_created\",\"format\":\"timeseries\"}]}" | jq . > recorded_query_timeseries.json

call POST /api/v1/query "{$range,\"intervalMs\":3600000,\"maxDataPoints\":100,\"queries\":[
 {\"refId\":\"T\",\"metric\":\"orders_created\",\"groupBy\":[\"channel\"],\"filters\":$only,\"format\":\"table\"},
 {\"refId\":\"K\",\"metric\":\"orders_created\",\"filters\":$only,\"format\":\"kpi\"}]}" | jq . > recorded_query_table_kpi.json

call GET /api/v1/whoami | jq . > recorded_whoami.json

curl -sS -X POST -H 'Authorization: Bearer not-a-key' -H 'Content-Type: application/json' --data '{}' \
  "$url/api/v1/query" | jq . > recorded_unauthorized.json

echo "recorded from $url"
