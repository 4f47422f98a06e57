#!/bin/sh
# Backend container start: apply migrations, register the organization, the
# read key that Grafana was given (METRICSHUB_BOOTSTRAP_KEY) and the ingest key
# of event producers (METRICSHUB_BOOTSTRAP_INGEST_KEY), then serve.
# Every step is idempotent, so a restart repeats them harmlessly.
set -eu

# What `npx metrics-hub` runs; called directly so the server is PID 1 and gets SIGTERM for its graceful shutdown.
metrics_hub() {
  node /app/backend/bin/metrics-hub.js "$@"
}

metrics_hub migrate

if [ -n "${METRICSHUB_BOOTSTRAP_KEY:-}" ]; then
  org="${METRICSHUB_BOOTSTRAP_ORG:-demo}"
  metrics_hub orgs create "$org"
  metrics_hub keys import --org "$org" --key "$METRICSHUB_BOOTSTRAP_KEY" --scope read
fi
if [ -n "${METRICSHUB_BOOTSTRAP_INGEST_KEY:-}" ]; then
  org="${METRICSHUB_BOOTSTRAP_ORG:-demo}"
  metrics_hub orgs create "$org"
  metrics_hub keys import --org "$org" --key "$METRICSHUB_BOOTSTRAP_INGEST_KEY" --scope ingest
fi

# Demo data once (the demo is idempotent: a second run adds no data).
if [ "${DEMO_DATA:-off}" = on ]; then metrics_hub demo; fi

exec node /app/backend/bin/metrics-hub.js serve
