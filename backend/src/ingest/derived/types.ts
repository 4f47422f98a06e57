import { ROLLUP_DIMENSIONS } from '../../rollups/dimensions.js';
import type { Contribution } from '../aggregate.js';
import type { ValidEvent } from '../schema.js';

/**
 * Derived rollup types: what ingestion adds to the rollups besides each
 * event's own row. Their names contain ':', which an event type sent to the
 * API can never contain, so no client can write into them.
 */
export const DERIVED = {
  conversationLevel: 'conversation:level',
  conversationSatisfaction: 'conversation:satisfaction',
  agentAvailabilityHours: 'agent:availability_hours',
  botConversationLevel: 'bot.conversation:level',
  botConversationMessages: 'bot.conversation:messages',
  botConversationSatisfaction: 'bot.conversation:satisfaction',
  botTokens: 'bot.response:tokens',
  botCost: 'bot.response:cost',
  botFallback: 'bot.response:fallback',
  botKnowledge: 'bot.response:knowledge',
  contactContacted: 'contact:contacted',
} as const;

/** What the events of one batch count beyond their own rows. */
export interface Derived {
  /** Stored events that count nothing (repeats): their raw row is kept, their rollup row is not written. */
  uncounted: Set<ValidEvent>;
  /** Rows of derived types. */
  extra: Contribution[];
}

export const emptyDerived = (): Derived => ({ uncounted: new Set(), extra: [] });

/**
 * Dims with keys in ROLLUP_DIMENSIONS order, as aggregate() needs them (equal
 * sets must give equal JSON). jsonb read back from PostgreSQL reorders keys.
 */
export function orderedDims(dims: Record<string, unknown>, only: readonly string[] = ROLLUP_DIMENSIONS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ROLLUP_DIMENSIONS) {
    const value = dims[name];
    if (only.includes(name) && value !== undefined && value !== null) out[name] = String(value);
  }
  return out;
}

/** Batch events of one type, in time order (batch order between equal times). */
export function ofType(events: ValidEvent[], type: string): ValidEvent[] {
  return events.filter((event) => event.type === type).sort((a, b) => a.occurredAtMs - b.occurredAtMs);
}

export const stringAttribute = (event: ValidEvent, name: string): string | undefined => {
  const value = event.attributes[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};
