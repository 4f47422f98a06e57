import type { PoolClient } from '../db/pool.js';
import { availabilityContributions } from './derived/agents.js';
import { botContributions } from './derived/bots.js';
import { conversationContributions } from './derived/conversations.js';
import { emptyDerived, type Derived } from './derived/types.js';
import type { ValidEvent } from './schema.js';

/**
 * What conversation, agent and bot events count beyond their own rollup rows,
 * and which of them are repeats that count nothing. Runs inside the batch's
 * transaction, after the raw rows are written; each part takes its row locks
 * in a fixed order. Contacted contacts are claimed and counted by the batch's
 * last statement instead (derived/contacts.ts, store.ts).
 */
export async function derivedContributions(client: PoolClient, organizationId: string, events: ValidEvent[]): Promise<Derived> {
  const total = emptyDerived();
  for (const part of [conversationContributions, availabilityContributions, botContributions]) {
    const { uncounted, extra } = await part(client, organizationId, events);
    for (const event of uncounted) total.uncounted.add(event);
    total.extra.push(...extra);
  }
  return total;
}
