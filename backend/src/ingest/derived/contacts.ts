import type { PoolClient } from '../../db/pool.js';
import { bucketStart } from '../../rollups/buckets.js';
import { claimKeys, keyId } from '../claims.js';
import type { ValidEvent } from '../schema.js';
import { DERIVED, emptyDerived, orderedDims, stringAttribute, type Derived } from './types.js';

const SCOPE = DERIVED.contactContacted;

/** Outbound touches that make a contact "contacted": a message sent or an outbound call, with a contactId. */
function contactOf(event: ValidEvent): string | undefined {
  if (event.type === 'message.sent' || (event.type === 'call.finished' && event.attributes.direction === 'outbound')) return stringAttribute(event, 'contactId');
  return undefined;
}

/**
 * Contacted contacts, the denominator of the opt-out rate: each contact counts
 * once per UTC day it was messaged or called (however often), on its first
 * touch of the day. A range of several days sums the days; exact distinct
 * contacts over any range are the unique_contacts metric (distinct counts).
 */
export async function contactContributions(client: PoolClient, organizationId: string, events: ValidEvent[]): Promise<Derived> {
  const derived = emptyDerived();
  const touches = events
    .map((event) => ({ event, contactId: contactOf(event) }))
    .filter((touch): touch is { event: ValidEvent; contactId: string } => touch.contactId !== undefined)
    .sort((a, b) => a.event.occurredAtMs - b.event.occurredAtMs);
  if (touches.length === 0) return derived;
  const keyOf = ({ event, contactId }: (typeof touches)[number]) => JSON.stringify([contactId, new Date(bucketStart(event.occurredAtMs, 'day')).toISOString().slice(0, 10)]);
  const claimed = await claimKeys(client, organizationId, touches.map((touch) => ({ scope: SCOPE, key: keyOf(touch), occurredAtMs: touch.event.occurredAtMs })));
  for (const touch of touches) {
    if (claimed.delete(keyId(SCOPE, keyOf(touch)))) {
      derived.extra.push({ type: DERIVED.contactContacted, occurredAtMs: touch.event.occurredAtMs, value: null, dims: orderedDims(touch.event.dims, ['channel']) });
    }
  }
  return derived;
}
