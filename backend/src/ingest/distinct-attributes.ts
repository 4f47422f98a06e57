import type { Catalog } from '../catalog/load.js';

/**
 * Which event attributes ingestion adds to distinct sketches, per event type:
 * those that catalog metrics of an events source count (`measure: distinct`).
 * Nothing else is sketched, so distinct counts cost nothing until a metric
 * asks for one. A metric added later counts from the events ingested after it.
 */
export type DistinctAttributes = ReadonlyMap<string, readonly string[]>;

export const NO_DISTINCT_ATTRIBUTES: DistinctAttributes = new Map();

/** A read callback also counts as its message's delivery (ingest/store.ts), so it carries the delivered attributes too. */
const ALSO_COUNTED_AS: Record<string, string> = { 'message.read': 'message.delivered' };

export function distinctAttributesOf(catalog: Pick<Catalog, 'metrics' | 'source'>): DistinctAttributes {
  const byType = new Map<string, Set<string>>();
  const add = (type: string, attribute: string) => {
    const set = byType.get(type) ?? new Set<string>();
    set.add(attribute);
    byType.set(type, set);
  };
  for (const metric of catalog.metrics) {
    if (catalog.source(metric.source)?.type !== 'events') continue;
    const query = metric.query as { eventTypes?: unknown; measure?: unknown; attribute?: unknown } | undefined;
    if (query?.measure !== 'distinct' || typeof query.attribute !== 'string' || !Array.isArray(query.eventTypes)) continue;
    for (const type of query.eventTypes as string[]) add(type, query.attribute);
  }
  for (const [type, countedAs] of Object.entries(ALSO_COUNTED_AS)) for (const attribute of byType.get(countedAs) ?? []) add(type, attribute);
  return new Map([...byType].map(([type, attributes]) => [type, [...attributes].sort()]));
}

const MAX_VALUE_LENGTH = 200;

/**
 * The values of an event's sketched attributes, as strings (a number counts
 * as its decimal string). An attribute that is absent is not counted; one that
 * is not a string or a number rejects the event, naming the field.
 */
export function distinctValuesOf(attributes: Record<string, unknown>, names: readonly string[]): { values: Record<string, string> } | { error: string } {
  const values: Record<string, string> = {};
  for (const name of names) {
    const raw = attributes[name];
    if (raw === undefined || raw === null) continue;
    if (typeof raw === 'number' && Number.isFinite(raw)) values[name] = String(raw);
    else if (typeof raw === 'string' && raw.trim().length > 0 && raw.length <= MAX_VALUE_LENGTH) values[name] = raw;
    else {
      return { error: `attributes.${name}: must be a non-empty string (at most ${MAX_VALUE_LENGTH} characters) or a number: its distinct values are counted` };
    }
  }
  return { values };
}
