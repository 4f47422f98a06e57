import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from './support/server.js';

const PLUGIN_DIR = path.resolve(import.meta.dirname, '../../plugin');

/**
 * The Grafana plugin's Go component against this real backend over real HTTP:
 * its end-to-end test ingests events, runs QueryData as Grafana (and alert
 * rules) would, and checks the numbers.
 */
test('the Go component answers QueryData from a running backend', { timeout: 300_000 }, async () => {
  const server = await startTestServer('plugin_e2e');
  try {
    const key = await server.keyFor('e2e-org');
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('go', ['test', '-count=1', '-v', '-run', 'TestEndToEndAgainstARunningBackend', './pkg/plugin/'], {
        cwd: PLUGIN_DIR,
        env: { ...process.env, METRICSHUB_E2E_URL: server.baseUrl, METRICSHUB_E2E_KEY: key },
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('error', (error) => resolve({ code: -1, output: `cannot run go (install Go to run the plugin's tests): ${error.message}` }));
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /--- PASS: TestEndToEndAgainstARunningBackend/);
    assert.doesNotMatch(result.output, /--- SKIP/);
  } finally {
    await server.stop();
  }
});
