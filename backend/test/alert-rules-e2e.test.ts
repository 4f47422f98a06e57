import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runGoTest } from './support/go-test.js';
import { startTestServer, type TestServer } from './support/server.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes: Record<string, unknown>;
}

/**
 * A steady business: every 3 minutes in [from, to) one order (40..59), one workflow run (every
 * 40th fails), one message sent (every 25th never delivered) and one bot answer (300..899 ms),
 * except in the times `closed` names.
 */
function normalTraffic(prefix: string, from: number, to: number, closed: (time: number) => boolean = () => false): Event[] {
  const events: Event[] = [];
  for (let t = from, n = 0; t < to; t += 3 * MINUTE, n += 1) {
    if (closed(t)) continue;
    const at = (offset: number) => new Date(t + offset).toISOString();
    events.push(
      { id: `${prefix}o${n}`, type: 'order.created', occurredAt: at(0), value: 40 + ((n * 13) % 20), attributes: { channel: 'web' } },
      { id: `${prefix}w${n}`, type: 'workflow.finished', occurredAt: at(1000), value: 1200, attributes: { status: n % 40 === 0 ? 'FAILED' : 'SUCCESS' } },
      { id: `${prefix}s${n}`, type: 'message.sent', occurredAt: at(2000), attributes: { messageId: `${prefix}m${n}`, channel: 'sms' } },
      { id: `${prefix}b${n}`, type: 'bot.response', occurredAt: at(4000), value: 300 + ((n * 37) % 600), attributes: { botId: 'faq', success: true } },
    );
    if (n % 25 !== 0) events.push({ id: `${prefix}d${n}`, type: 'message.delivered', occurredAt: at(3000), attributes: { messageId: `${prefix}m${n}`, channel: 'sms' } });
  }
  return events;
}

/**
 * The incidents, all within [from, to): orders as usual but worth 2000 each, 45 of 60 workflow
 * runs failing, 10 of 60 messages delivered, 30 bot answers of 9 s.
 */
function incidents(from: number, to: number): Event[] {
  const span = to - from;
  const at = (index: number, of: number) => new Date(from + Math.floor(((index + 0.5) * span) / of)).toISOString();
  return [
    ...Array.from({ length: 7 }, (_, n) => ({ id: `incident-o${n}`, type: 'order.created', occurredAt: at(n, 7), value: 2000, attributes: { channel: 'web' } })),
    ...Array.from({ length: 60 }, (_, n) => ({ id: `incident-w${n}`, type: 'workflow.finished', occurredAt: at(n, 60), value: 1200, attributes: { status: n < 45 ? 'FAILED' : 'SUCCESS' } })),
    ...Array.from({ length: 60 }, (_, n) => ({ id: `incident-s${n}`, type: 'message.sent', occurredAt: at(n, 60), attributes: { messageId: `incident-m${n}`, channel: 'sms' } })),
    ...Array.from({ length: 10 }, (_, n) => ({ id: `incident-d${n}`, type: 'message.delivered', occurredAt: at(n, 10), attributes: { messageId: `incident-m${n}`, channel: 'sms' } })),
    ...Array.from({ length: 30 }, (_, n) => ({ id: `incident-b${n}`, type: 'bot.response', occurredAt: at(n, 30), value: 9000, attributes: { botId: 'faq', success: true } })),
  ];
}

async function ingest(server: TestServer, key: string, events: Event[]): Promise<void> {
  for (let start = 0; start < events.length; start += 5000) {
    const res = await server.request('/api/v1/events', { key, method: 'POST', json: { events: events.slice(start, start + 5000) } });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { rejected?: unknown[] };
    assert.equal(body.rejected?.length ?? 0, 0, JSON.stringify(body.rejected?.slice(0, 3)));
  }
}

/**
 * Every provisioned alert rule, evaluated whole (queries through the plugin's Go component over
 * real HTTP, then Grafana's expressions: alertchain_test.go) 20 minutes into an hour, for one
 * organization per scenario. Only the incident scenario fires, and there every rule whose
 * incident began in that partial hour fires; the seasonal orders rule judges complete hours,
 * which are normal here (its incidents are replayed in alert-replay.test.ts).
 */
test('every provisioned alert rule fires on its incident in the partial current hour, and never on no traffic or a partial hour', { timeout: 600_000 }, async () => {
  const server = await startTestServer('alert_rules_e2e', { REDIS_URL: undefined });
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-alert-rules-'));
  try {
    // In the past, so the scenario is the same whatever the clock: 20 minutes into an hour.
    const at = Math.floor(Date.now() / HOUR) * HOUR - HOUR + 20 * MINUTE;
    const history = at - 8 * DAY;
    const organizations = [
      { name: 'no traffic at all', events: [] as Event[], firing: [] as string[] },
      { name: 'normal traffic up to the partial current hour', events: normalTraffic('n', history, at), firing: [] },
      {
        // Closed every day from 4 hours before `at`'s time of day to the end of its hour: the silence is the usual one.
        name: 'a quiet night: no traffic for 4 hours, as every night',
        events: normalTraffic('q', history, at, (time) => (((time - (at - 4 * HOUR)) % DAY) + DAY) % DAY < 4 * HOUR + HOUR),
        firing: [],
      },
      {
        name: 'incidents in the partial current hour',
        events: [...normalTraffic('i', history, at), ...incidents(at - 20 * MINUTE, at)],
        firing: ['mh-workflow-failure-rate', 'mh-delivery-rate-drop', 'mh-revenue-spike', 'mh-bot-p95-response-time'],
      },
    ];
    const written = [];
    for (const [index, organization] of organizations.entries()) {
      const key = await server.keyFor(`scenario-${index}`);
      await ingest(server, key, organization.events);
      written.push({ name: organization.name, key, firing: organization.firing });
    }
    const scenarioFile = path.join(directory, 'scenarios.json');
    await fs.writeFile(scenarioFile, JSON.stringify({ at, organizations: written }));

    const result = await runGoTest('TestProvisionedRulesFireOnlyOnTheirIncident', { METRICSHUB_E2E_URL: server.baseUrl, METRICSHUB_SCENARIO_FILE: scenarioFile });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /--- PASS: TestProvisionedRulesFireOnlyOnTheirIncident/);
    assert.doesNotMatch(result.output, /--- SKIP/);
    // Every rule was evaluated in every scenario (5 rules x 4 scenarios).
    assert.match(result.output, /5 rules x 4 scenarios evaluated/);
  } finally {
    await server.stop();
    await fs.rm(directory, { recursive: true, force: true });
  }
});
