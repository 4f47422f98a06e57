import { z } from 'zod';
import { fastBoolean, fastInt, fastNumber, fastOneOf, fastOptional, fastShape, fastTrimmedId } from './schema-fast.js';

/**
 * The attribute contract of the conversation, contact, agent and bot events
 * (docs/api.md, "Conversations, contacts, agents and bots"). Kept apart from
 * schema.ts so the rest of the event contract can change without touching it;
 * schema.ts merges these rules into its own.
 */

export const CONVERSATION_STATES = ['open', 'pending', 'done', 'spam', 'unsubscribe'] as const;
export const AVAILABILITY_STATUSES = ['online', 'away', 'offline'] as const;
export const BOT_CONVERSATION_OUTCOMES = ['resolved', 'escalated', 'abandoned', 'failed'] as const;
export const OPT_OUT_INITIATORS = ['contact', 'agent', 'system'] as const;

/** Event types this module gives a meaning to (besides message.* and call.finished, which it extends). */
export const CONVERSATION_EVENT_TYPES = [
  'conversation.first_response',
  'agent.status_changed',
  'bot.conversation_started',
  'bot.conversation_ended',
  'contact.created',
  'contact.opted_out',
] as const;

const oneOf = (values: readonly [string, ...string[]]) => z.enum(values, { error: `must be one of ${values.join(', ')}` });
const id = z.string({ error: 'required: a non-empty string' }).trim().min(1, 'required: a non-empty string').max(200, 'must be at most 200 characters');
const satisfaction = z.number({ error: 'must be a whole number from 1 to 5' }).int('must be a whole number from 1 to 5').min(1, 'must be a whole number from 1 to 5').max(5, 'must be a whole number from 1 to 5');
const wholeCount = z.number({ error: 'must be a whole number >= 0' }).int('must be a whole number >= 0').min(0, 'must be a whole number >= 0').max(1e9, 'must be at most 1000000000');

export const conversationAttributeRules = {
  'conversation.status_changed': z.looseObject({
    from: oneOf(CONVERSATION_STATES),
    to: oneOf(CONVERSATION_STATES),
    conversationId: id.optional(),
    satisfaction: satisfaction.optional(),
  }),
  'conversation.first_response': z.looseObject({ conversationId: id }),
  'agent.status_changed': z.looseObject({ agentId: id, status: oneOf(AVAILABILITY_STATUSES) }),
  'bot.response': z.looseObject({
    botId: id,
    success: z.boolean({ error: 'required: true or false' }),
    tokens: wholeCount.optional(),
    cost: z.number({ error: 'must be a number >= 0' }).min(0, 'must be a number >= 0').max(1e9, 'must be at most 1000000000').optional(),
    fallback: z.boolean({ error: 'must be true or false' }).optional(),
    knowledgeBase: oneOf(['hit', 'miss']).optional(),
  }),
  'bot.conversation_started': z.looseObject({ conversationId: id, botId: id }),
  'bot.conversation_ended': z.looseObject({
    conversationId: id,
    botId: id,
    status: oneOf(BOT_CONVERSATION_OUTCOMES),
    messages: wholeCount.optional(),
    satisfaction: satisfaction.optional(),
  }),
  'contact.created': z.looseObject({ contactId: id }),
  'contact.opted_out': z.looseObject({ contactId: id, channel: id, initiatedBy: oneOf(OPT_OUT_INITIATORS) }),
} as const;

/** The same rules as plain checks, for parseEvent's fast path (schema-fast.ts); the zod rules above word the errors. */
const fastId = fastTrimmedId(200);
const fastSatisfaction = fastOptional(fastInt(1, 5));
const fastWholeCount = fastOptional(fastInt(0, 1e9));
export const conversationFastRules: Record<keyof typeof conversationAttributeRules, (attributes: Record<string, unknown>) => boolean> = {
  'conversation.status_changed': fastShape({
    from: fastOneOf(CONVERSATION_STATES),
    to: fastOneOf(CONVERSATION_STATES),
    conversationId: fastOptional(fastId),
    satisfaction: fastSatisfaction,
  }),
  'conversation.first_response': fastShape({ conversationId: fastId }),
  'agent.status_changed': fastShape({ agentId: fastId, status: fastOneOf(AVAILABILITY_STATUSES) }),
  'bot.response': fastShape({
    botId: fastId,
    success: fastBoolean,
    tokens: fastWholeCount,
    cost: fastOptional(fastNumber(0, 1e9)),
    fallback: fastOptional(fastBoolean),
    knowledgeBase: fastOptional(fastOneOf(['hit', 'miss'])),
  }),
  'bot.conversation_started': fastShape({ conversationId: fastId, botId: fastId }),
  'bot.conversation_ended': fastShape({
    conversationId: fastId,
    botId: fastId,
    status: fastOneOf(BOT_CONVERSATION_OUTCOMES),
    messages: fastWholeCount,
    satisfaction: fastSatisfaction,
  }),
  'contact.created': fastShape({ contactId: fastId }),
  'contact.opted_out': fastShape({ contactId: fastId, channel: fastId, initiatedBy: fastOneOf(OPT_OUT_INITIATORS) }),
};

/** Types whose value is a duration (seconds) and so cannot be negative. */
export const CONVERSATION_DURATION_TYPES = ['conversation.status_changed', 'conversation.first_response', 'bot.conversation_ended'] as const;

/** Types whose metric is their value: an event without one would count in no average. */
export const VALUE_REQUIRED_TYPES: ReadonlySet<string> = new Set(['conversation.first_response']);

/**
 * Dimensions these types derive rather than read: a started bot conversation
 * is `active` until its end event says how it ended. Used by rollups and by
 * the list query shape alike.
 */
export function derivedStatus(type: string): string | undefined {
  return type === 'bot.conversation_started' ? 'active' : undefined;
}
