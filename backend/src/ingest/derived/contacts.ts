import { bucketStart } from '../../rollups/buckets.js';
import type { ValidEvent } from '../schema.js';
import { DERIVED, orderedDims, stringAttribute } from './types.js';

/** The dedupe scope of contacted contacts in ingest_keys: one key per (contact, UTC day). */
export const CONTACT_SCOPE = DERIVED.contactContacted;

/** Outbound touches that make a contact "contacted": a message sent or an outbound call, with a contactId. */
function contactOf(event: ValidEvent): string | undefined {
  if (event.type === 'message.sent' || (event.type === 'call.finished' && event.attributes.direction === 'outbound')) return stringAttribute(event, 'contactId');
  return undefined;
}

/**
 * The first touch of one (contact, day) in a batch: claimed under `key`, and
 * if the claim is new, counted once in contact:contacted at `occurredAtMs`
 * with `dims` (the touch's channel).
 */
export interface ContactTouch {
  key: string;
  occurredAtMs: number;
  dims: Record<string, string>;
}

/**
 * Contacted contacts, the denominator of the opt-out rate: each contact counts
 * once per UTC day it was messaged or called (however often), on its first
 * touch of the day (earliest, then first in the batch). A range of several
 * days sums the days; exact distinct contacts over any range are the
 * unique_contacts metric (distinct counts).
 *
 * Only the touches: the batch's last statement claims their keys and counts
 * the ones it won (ingest/store.ts), so the claims, which concurrent batches
 * contend for (a busy contact is touched by many), are held only until the
 * commit right after. Sorted by key: every batch claims in the same order.
 */
export function contactTouches(events: ValidEvent[]): ContactTouch[] {
  const first = new Map<string, ContactTouch>();
  const touches = events
    .map((event) => ({ event, contactId: contactOf(event) }))
    .filter((touch): touch is { event: ValidEvent; contactId: string } => touch.contactId !== undefined)
    .sort((a, b) => a.event.occurredAtMs - b.event.occurredAtMs);
  for (const { event, contactId } of touches) {
    // JSON: unambiguous whatever the id holds, and storable (a key cannot contain NUL).
    const key = JSON.stringify([contactId, new Date(bucketStart(event.occurredAtMs, 'day')).toISOString().slice(0, 10)]);
    if (!first.has(key)) first.set(key, { key, occurredAtMs: event.occurredAtMs, dims: orderedDims(event.dims, ['channel']) });
  }
  return [...first.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
