import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CatalogError, parseCatalog } from '../src/catalog/load.js';
import { distinctAttributesOf } from '../src/ingest/distinct-attributes.js';
import { eventsMetricQuerySchema } from '../src/sources/adapters/events.js';

// Found by the reliability suite's catalog fuzzing: this YAML parses, but its alias cannot be resolved.
test('an alias to an anchor never set is a CatalogError naming the file and the reason, not a crash', () => {
  assert.throws(
    () => parseCatalog('*missing', 'bad.yaml'),
    (error: unknown) => error instanceof CatalogError && /bad\.yaml: \(root\): YAML: Unresolved alias/.test(error.message),
  );
});

describe('distinct metrics in the catalog', () => {
  const catalogWith = (metric: string) => `
sources:
  - { id: events, type: events }
  - { id: crm, type: postgres, connection: main }
metrics:
  - { key: orders, label: Orders, source: events, kind: counter, query: { eventTypes: [order.created], measure: count } }
${metric}
`;

  test('a distinct metric on an events source gives ingestion its event types and attribute', () => {
    const catalog = parseCatalog(
      catalogWith('  - { key: buyers, label: Buyers, source: events, kind: distinct, query: { eventTypes: [order.created, message.delivered], measure: distinct, attribute: customerId } }'),
      'ok.yaml',
    );
    assert.deepEqual(catalog.metric('buyers')!.aggregations, ['distinct']);
    // A read callback counts as its message's delivery, so it carries the delivered attributes too.
    assert.deepEqual(
      [...distinctAttributesOf(catalog)],
      [
        ['order.created', ['customerId']],
        ['message.delivered', ['customerId']],
        ['message.read', ['customerId']],
      ],
    );
  });

  for (const [label, metric, message] of [
    ['kind distinct on a postgres source', '  - { key: buyers, label: Buyers, source: crm, kind: distinct, query: { sql: "SELECT 1" } }', /metrics\[1\]\.kind: distinct metrics are counted from event sketches: the source must be of type events, not postgres/],
    ['measure distinct on a counter', '  - { key: buyers, label: Buyers, source: events, kind: counter, query: { eventTypes: [order.created], measure: distinct, attribute: customerId } }', /metrics\[1\]\.kind: an events metric has kind distinct exactly when its query has measure: distinct/],
    ['a distinct ratio part', '  - { key: buyers, label: Buyers, source: events, kind: distinct, query: { eventTypes: [order.created], measure: distinct, attribute: customerId } }\n  - { key: share, label: Share, source: events, kind: ratio, numerator: buyers, denominator: orders }', /metrics\[2\]\.numerator: 'buyers' counts distinct values, which do not add up into a rate/],
  ] as const) {
    test(`${label} is a CatalogError naming the path`, () => {
      assert.throws(
        () => parseCatalog(catalogWith(metric), 'bad.yaml'),
        (error: unknown) => error instanceof CatalogError && message.test(error.message),
      );
    });
  }

  test('measure distinct without an attribute is refused by the events adapter schema, naming the field', () => {
    const result = eventsMetricQuerySchema.safeParse({ eventTypes: ['order.created'], measure: 'distinct' });
    assert.equal(result.success, false);
    assert.deepEqual(result.error!.issues[0]!.path, ['attribute']);
    assert.match(result.error!.issues[0]!.message, /measure distinct needs an attribute/);
    assert.equal(eventsMetricQuerySchema.safeParse({ eventTypes: ['order.created'], measure: 'count', attribute: 'x' }).success, false);
  });
});

describe('a source headline and a live window in the catalog', () => {
  const catalogWith = (events: string, metric = '') => `
sources:
  - { id: events, type: events${events} }
  - { id: crm, type: postgres, connection: main }
metrics:
  - { key: orders, label: Orders, source: events, kind: counter, query: { eventTypes: [order.created], measure: count } }
  - { key: deals, label: Deals, source: crm, kind: counter, query: { sql: "SELECT 1" } }
${metric}
`;

  test('a headline must be a metric of its own source', () => {
    assert.equal(parseCatalog(catalogWith(', headline: orders'), 'ok.yaml').source('events')!.headline, 'orders');
    assert.throws(() => parseCatalog(catalogWith(', headline: deals'), 'bad.yaml'), (error: unknown) => error instanceof CatalogError && /sources\[0\]\.headline: 'deals' is not a metric of source 'events' \(it belongs to 'crm'\)/.test(error.message));
    assert.throws(() => parseCatalog(catalogWith(', headline: order'), 'bad.yaml'), (error: unknown) => error instanceof CatalogError && /sources\[0\]\.headline: 'order' is not a metric of source 'events'.*did you mean 'orders'/.test(error.message));
  });

  test('liveWindowSeconds: 60 to 3600, on counts and sums only', () => {
    assert.equal(eventsMetricQuerySchema.safeParse({ eventTypes: ['bot.response'], measure: 'count', liveWindowSeconds: 3600 }).success, true);
    for (const [query, message] of [
      [{ eventTypes: ['bot.response'], measure: 'count', liveWindowSeconds: 7200 }, /must be at most 3600/],
      [{ eventTypes: ['bot.response'], measure: 'count', liveWindowSeconds: 30 }, /must be at least 60/],
      [{ eventTypes: ['x:level'], measure: 'level', liveWindowSeconds: 600 }, /only measures count and value stream over a window/],
    ] as const) {
      const result = eventsMetricQuerySchema.safeParse(query);
      assert.equal(result.success, false);
      assert.deepEqual(result.error!.issues[0]!.path, ['liveWindowSeconds']);
      assert.match(result.error!.issues[0]!.message, message);
    }
  });
});
