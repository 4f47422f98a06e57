import type { PoolClient } from '../../db/pool.js';
import { claimedBefore, claimKeys, keyId } from '../claims.js';
import type { ValidEvent } from '../schema.js';
import { DERIVED, emptyDerived, ofType, orderedDims, stringAttribute, type Derived } from './types.js';

const STARTED = 'bot.conversation_started';
const ENDED = 'bot.conversation_ended';
const BOT_DIMS = ['channel', 'botId'] as const;

/**
 * Bot conversations start and end once each: a repeated start or end
 * callback counts nothing. Active conversations are a level: +1 at the start,
 * -1 at the end, each only when the other side is not already known to be
 * past (an end that arrives before its start leaves the level alone both times).
 */
async function conversationLifecycle(client: PoolClient, organizationId: string, events: ValidEvent[], derived: Derived): Promise<void> {
  const starts = ofType(events, STARTED);
  const ends = ofType(events, ENDED);
  if (starts.length === 0 && ends.length === 0) return;
  const idOf = (event: ValidEvent) => stringAttribute(event, 'conversationId')!;
  // Ends already claimed before this batch: a start arriving after its end must not raise the level.
  const endedBefore = await claimedBefore(client, organizationId, ENDED, starts.map(idOf));
  const claimed = await claimKeys(client, organizationId, [...starts, ...ends].map((event) => ({ scope: event.type, key: idOf(event), occurredAtMs: event.occurredAtMs })));
  const counted = (event: ValidEvent) => {
    if (claimed.delete(keyId(event.type, idOf(event)))) return true;
    derived.uncounted.add(event);
    return false;
  };
  const countedStarts = starts.filter(counted);
  const countedEnds = ends.filter(counted);
  // Includes starts claimed just now by this transaction.
  const started = await claimedBefore(client, organizationId, STARTED, countedEnds.map(idOf));

  for (const event of countedStarts) {
    if (endedBefore.has(idOf(event))) continue;
    derived.extra.push({ type: DERIVED.botConversationLevel, occurredAtMs: event.occurredAtMs, value: 1, dims: orderedDims(event.dims, BOT_DIMS) });
  }
  for (const event of countedEnds) {
    const dims = orderedDims(event.dims, BOT_DIMS);
    if (started.has(idOf(event))) derived.extra.push({ type: DERIVED.botConversationLevel, occurredAtMs: event.occurredAtMs, value: -1, dims });
    const { messages, satisfaction } = event.attributes;
    if (typeof messages === 'number') derived.extra.push({ type: DERIVED.botConversationMessages, occurredAtMs: event.occurredAtMs, value: messages, dims });
    if (typeof satisfaction === 'number') derived.extra.push({ type: DERIVED.botConversationSatisfaction, occurredAtMs: event.occurredAtMs, value: satisfaction, dims });
  }
}

/** What a bot response reports besides its response time: tokens, cost, fallback, knowledge-base lookup. */
function responseParts(events: ValidEvent[], derived: Derived): void {
  for (const event of events) {
    if (event.type !== 'bot.response') continue;
    const { tokens, cost, fallback, knowledgeBase } = event.attributes;
    const at = event.occurredAtMs;
    const dims = orderedDims(event.dims, BOT_DIMS);
    if (typeof tokens === 'number') derived.extra.push({ type: DERIVED.botTokens, occurredAtMs: at, value: tokens, dims });
    if (typeof cost === 'number') derived.extra.push({ type: DERIVED.botCost, occurredAtMs: at, value: cost, dims });
    if (fallback === true) derived.extra.push({ type: DERIVED.botFallback, occurredAtMs: at, value: null, dims });
    if (typeof knowledgeBase === 'string') derived.extra.push({ type: DERIVED.botKnowledge, occurredAtMs: at, value: null, dims: orderedDims({ ...dims, status: knowledgeBase }) });
  }
}

export async function botContributions(client: PoolClient, organizationId: string, events: ValidEvent[]): Promise<Derived> {
  const derived = emptyDerived();
  await conversationLifecycle(client, organizationId, events, derived);
  responseParts(events, derived);
  return derived;
}
