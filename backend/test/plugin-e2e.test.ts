import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runGoTest } from './support/go-test.js';
import { startTestServer } from './support/server.js';

/**
 * The Grafana plugin's Go component against this real backend over real HTTP:
 * its end-to-end test ingests events, runs QueryData as Grafana (and alert
 * rules) would, and checks the numbers.
 */
test('the Go component answers QueryData from a running backend', { timeout: 300_000 }, async () => {
  const server = await startTestServer('plugin_e2e');
  try {
    const key = await server.keyFor('e2e-org');
    const result = await runGoTest('TestEndToEndAgainstARunningBackend', { METRICSHUB_E2E_URL: server.baseUrl, METRICSHUB_E2E_KEY: key });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /--- PASS: TestEndToEndAgainstARunningBackend/);
    assert.doesNotMatch(result.output, /--- SKIP/);
  } finally {
    await server.stop();
  }
});
