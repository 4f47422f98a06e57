import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Severity } from '../src/anomalies/detectors/types.js';
import { nextState, type StateRecord, type Transition } from '../src/anomalies/state-machine.js';

const MINUTE = 60_000;

/** Feeds one severity per minute and returns the transitions recorded. */
function run(severities: Severity[], forMinutes: number, keepMinutes: number): Array<Transition & { minute: number }> {
  let record: StateRecord | undefined;
  const transitions: Array<Transition & { minute: number }> = [];
  severities.forEach((severity, minute) => {
    const next = nextState(record, minute * MINUTE, severity, { forMs: forMinutes * MINUTE, keepFiringForMs: keepMinutes * MINUTE });
    record = next.record;
    if (next.transition) transitions.push({ ...next.transition, minute });
  });
  return transitions;
}

describe('alert state machine', () => {
  test('a breach goes pending, then firing once it lasted `for`, then resolved after `keepFiringFor` clear', () => {
    const transitions = run(['healthy', 'critical', 'critical', 'critical', 'healthy', 'healthy', 'healthy'], 2, 2);
    assert.deepEqual(
      transitions.map((t) => `${t.minute}:${t.from}->${t.to}`),
      ['1:normal->pending', '3:pending->firing', '6:firing->resolved'],
    );
  });

  test('a breach shorter than `for` never fires', () => {
    const transitions = run(['warning', 'warning', 'healthy', 'healthy'], 5, 0);
    assert.deepEqual(transitions.map((t) => t.to), ['pending', 'normal']);
  });

  test('`for` of zero fires at once', () => {
    assert.deepEqual(run(['critical'], 0, 0).map((t) => `${t.from}->${t.to}`), ['normal->firing']);
  });

  test('a value hovering at the bound does not flap while firing (keepFiringFor)', () => {
    const hovering: Severity[] = ['critical', 'healthy', 'critical', 'healthy', 'critical', 'healthy', 'critical'];
    const transitions = run(hovering, 0, 3);
    assert.deepEqual(transitions.map((t) => t.to), ['firing'], 'one firing, no resolve/fire churn');
  });

  test('an escalation from warning to critical while firing is recorded once', () => {
    const transitions = run(['warning', 'critical', 'critical'], 0, 5);
    assert.deepEqual(transitions.map((t) => `${t.to}/${t.severity}`), ['firing/warning', 'firing/critical']);
  });

  test('a healthy series records nothing', () => {
    assert.deepEqual(run(['healthy', 'healthy', 'healthy'], 1, 1), []);
  });
});
