import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { EVALUATE_JOB } from '../src/anomalies/module.js';
import { loadRules } from '../src/anomalies/rules.js';
import { CatalogError, DEFAULT_CATALOG_FILE, parseCatalog } from '../src/catalog/load.js';
import { startTestServer, type TestServer } from './support/server.js';
import { workflowRuns } from './support/workflows.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface CatalogYaml {
  metrics: Array<{ key: string; rules?: Array<Record<string, unknown>> }>;
}

/** The default catalog with the first rule of one metric changed. */
async function catalogWithRule(metricKey: string, change: (rule: Record<string, unknown>) => Record<string, unknown>): Promise<string> {
  const catalog = parseYaml(await fs.readFile(DEFAULT_CATALOG_FILE, 'utf8')) as CatalogYaml;
  const metric = catalog.metrics.find((one) => one.key === metricKey)!;
  metric.rules = [change(metric.rules![0]!)];
  return stringifyYaml(catalog);
}

describe('threshold rules with confidence on a ratio', () => {
  let server: TestServer;
  let directory: string;

  before(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-confidence-'));
    const file = path.join(directory, 'catalog.yaml');
    // workflow_failure_rate_high with bounds of 5 % and 20 %, minVolume 10, judged at 95 %.
    await fs.writeFile(file, await catalogWithRule('workflow_failure_rate', (rule) => ({ ...rule, warning: 0.05, critical: 0.2, hysteresis: 0.01, confidence: 1.96 })));
    server = await startTestServer('alerts_confidence', { REDIS_URL: undefined, CATALOG_FILE: file });
  });
  after(async () => {
    await server?.stop();
    await fs.rm(directory, { recursive: true, force: true });
  });

  const activeAlerts = async (key: string) => {
    const res = await server.request('/api/v1/alerts?state=active', { key });
    assert.equal(res.status, 200);
    return ((await res.json()) as { alerts: Array<{ rule: string; severity: string; message: string }> }).alerts.filter((alert) => alert.rule === 'workflow_failure_rate_high');
  };

  test('few runs are judged at the edge of the Wilson interval, not at the raw rate', async () => {
    const at = Math.floor(Date.now() / MINUTE) * MINUTE;
    const oneOfTen = await server.keyFor('one-of-ten');
    const twoOfTen = await server.keyFor('two-of-ten');
    for (const [key, failed] of [
      [oneOfTen, 1],
      [twoOfTen, 2],
    ] as const) {
      const res = await server.request('/api/v1/events', { key, method: 'POST', json: { events: workflowRuns(`wf${failed}`, 10, failed, Math.floor(at / HOUR) * HOUR - 30 * MINUTE) } });
      assert.equal(res.status, 200);
    }
    await server.running.context.jobs!.runNow(EVALUATE_JOB, new Date(at));

    // 1 of 10 is 10 % raw (a warning without confidence) but its interval starts at 1.8 %: no alert.
    assert.deepEqual(await activeAlerts(oneOfTen), []);
    // 2 of 10 is 20 % raw (critical without confidence); the interval starts at 5.7 %: a warning.
    const [alert] = await activeAlerts(twoOfTen);
    assert.equal(alert?.severity, 'warning');
    assert.match(alert!.message, /^Workflow failure rate 20%/, 'the message reports the observed rate');
  });
});

test('confidence on a metric that is not a ratio is a catalog error naming the rule', async () => {
  const text = await catalogWithRule('orders_created', () => ({ id: 'orders_high', type: 'threshold', direction: 'above', warning: 10, confidence: 1.96 }));
  const catalog = parseCatalog(text, 'confidence.yaml');
  assert.throws(
    () => loadRules(catalog),
    (error: unknown) => error instanceof CatalogError && /confidence\.yaml(:\d+)?: metrics\[\d+\]\.rules\[0\]\.confidence: confidence needs a ratio metric; 'orders_created' is a counter/.test(error.message),
  );
});
