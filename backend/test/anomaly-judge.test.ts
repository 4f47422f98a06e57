import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeThreshold, needsCount } from '../src/anomalies/judge.js';
import { loadRules } from '../src/anomalies/rules.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../src/catalog/load.js';

const rules = loadRules(loadCatalog(DEFAULT_CATALOG_FILE));
const ruleOf = (id: string) => {
  const found = rules.find((entry) => entry.rule.id === id);
  assert.ok(found, `${id} is in the default catalog`);
  return found;
};

test('an averaged metric is judged only with minVolume values behind it (one 1-star review is not a rating drop)', () => {
  const { metric, rule } = ruleOf('rating_drop');
  assert.ok(rule.type === 'threshold' && rule.minVolume === 5, 'rating_drop needs 5 reviews');
  assert.equal(needsCount(metric, rule), true);
  const at = Date.UTC(2026, 1, 1);
  assert.equal(judgeThreshold(metric, rule, at, { value: 1, count: 1 }, 'healthy'), null);
  assert.equal(judgeThreshold(metric, rule, at, { value: 1, count: 4 }, 'healthy'), null);
  assert.equal(judgeThreshold(metric, rule, at, { value: 1, count: 5 }, 'healthy')?.severity, 'critical');
  assert.equal(judgeThreshold(metric, rule, at, { value: 3, count: 5 }, 'healthy')?.severity, 'warning');
  assert.equal(judgeThreshold(metric, rule, at, { value: 4.4, count: 5 }, 'healthy')?.severity, 'healthy');
});

test('a ratio counts its denominator, not its values', () => {
  const { metric, rule } = ruleOf('delivery_rate_low');
  assert.ok(rule.type === 'threshold' && rule.minVolume > 0);
  assert.equal(needsCount(metric, rule), false);
});
