import type { IncidentKind } from './incidents.js';
import type { Random } from './random.js';

/**
 * Demo events of conversations, agents' availability, bot conversations and
 * contacts (issue 16): realistic shapes for the conversation, agent, bot and
 * contact metrics, bent by their incidents (spam_wave, satisfaction_drop,
 * bot_handoff_spike, opt_out_spike).
 */

const HOUR = 3_600_000;
const MARKETS = [['de', 4], ['fr', 2], ['uk', 2], ['us', 3]] as const;

export interface DemoEventLike {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes: Record<string, unknown>;
}

/** What generateHour hands over: its clock, ids, volumes and the incidents of the hour. */
export interface HourTools {
  random: Random;
  hourStart: number;
  now: number;
  incidents: Set<IncidentKind>;
  /** A unique event id for the n-th thing of a kind in this hour. */
  id: (kind: string, n: number) => string;
  /** A Poisson count around base x the hour's traffic intensity. */
  count: (base: number) => number;
  /** A random time inside the hour, never after now. */
  timeIn: () => number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A human conversation: opened, first response, sometimes pending, then done, spam or unsubscribe. */
export interface ConversationPlan {
  id: string;
  opened: number;
  firstResponse: number;
  closed: number;
  outcome: 'done' | 'spam' | 'unsubscribe' | 'pending';
  channel: string;
  agentId: string;
  source: string;
  market: string;
}

export function conversationEvents(tools: HourTools, plan: ConversationPlan, events: DemoEventLike[]): void {
  const { random, now, incidents } = tools;
  const base = { conversationId: plan.id, channel: plan.channel, agentId: plan.agentId, source: plan.source, market: plan.market };
  const push = (suffix: string, at: number, type: string, attributes: Record<string, unknown>, value?: number) => {
    if (at < now) events.push({ id: `${plan.id}-${suffix}`, type, occurredAt: iso(at), ...(value !== undefined && { value }), attributes: { ...base, ...attributes } });
  };
  push('open', plan.opened, 'conversation.status_changed', { from: 'pending', to: 'open' });
  if (plan.outcome === 'spam' || plan.outcome === 'unsubscribe') {
    push(plan.outcome, plan.firstResponse, 'conversation.status_changed', { from: 'open', to: plan.outcome });
    return;
  }
  push('first', plan.firstResponse, 'conversation.first_response', {}, Math.round((plan.firstResponse - plan.opened) / 1000));
  if (plan.outcome === 'pending') {
    push('pending', plan.firstResponse + 60_000, 'conversation.status_changed', { from: 'open', to: 'pending' });
    return;
  }
  const unhappy = incidents.has('satisfaction_drop');
  const rated = random.chance(0.6);
  const satisfaction = unhappy ? random.weighted([[1, 5], [2, 4], [3, 1.5], [4, 0.5], [5, 0.3]]) : random.weighted([[5, 5], [4, 4], [3, 1], [2, 0.3], [1, 0.2]]);
  push('done', plan.closed, 'conversation.status_changed', { from: 'open', to: 'done', ...(rated && { satisfaction }) }, Math.round((plan.closed - plan.opened) / 1000));
}

/** What the main demo stream draws for a conversation (as it always has); the rest comes from the tools' stream. */
export interface ConversationDraw {
  id: string;
  opened: number;
  channel: string;
  agentId: string;
  firstResponseS: number;
  resolutionH: number;
}

export function planConversation(tools: HourTools, draw: ConversationDraw, leadSources: ReadonlyArray<readonly [string, number]>): ConversationPlan {
  const { random, incidents } = tools;
  const slow = incidents.has('satisfaction_drop') ? 3 : 1;
  const firstResponse = draw.opened + Math.round(draw.firstResponseS * slow * 1000);
  const closed = firstResponse + Math.round(draw.resolutionH * slow * HOUR);
  const spamShare = incidents.has('spam_wave') ? 0.45 : 0.06;
  const outcome = random.weighted([
    ['done', 0.86 - spamShare],
    ['spam', spamShare],
    ['unsubscribe', 0.03],
    ['pending', 0.11],
  ] as const);
  return { id: draw.id, opened: draw.opened, firstResponse, closed, outcome, channel: draw.channel, agentId: draw.agentId, source: random.weighted(leadSources), market: random.weighted(MARKETS) };
}

/**
 * Agents work weekdays: online from about 8-9 UTC, away for lunch, offline at
 * 17-18; each change is an agent.status_changed event. Sent at the hour the
 * change happens, so the hours per status come out of real intervals.
 */
export function availabilityEvents(tools: HourTools, agentIds: readonly string[], events: DemoEventLike[]): void {
  const { random, hourStart } = tools;
  const date = new Date(hourStart);
  const weekday = date.getUTCDay();
  if (weekday === 0 || weekday === 6) return;
  const hour = date.getUTCHours();
  agentIds.forEach((agentId, index) => {
    // Each agent keeps its own rhythm: the first three start at 8, the others at 9.
    const start = index < 3 ? 8 : 9;
    const status = hour === start || hour === 13 ? 'online' : hour === 12 ? 'away' : hour === start + 9 ? 'offline' : undefined;
    if (!status) return;
    const at = hourStart + Math.floor(random.between(0, 20)) * 60_000;
    if (at < tools.now) events.push({ id: tools.id(`avail-${agentId}`, 0), type: 'agent.status_changed', occurredAt: iso(at), attributes: { agentId, status } });
  });
}

/** Bot conversations: started, then ended after a few minutes with an outcome, messages and sometimes a rating. */
export function botConversationEvents(tools: HourTools, bots: readonly string[], channels: readonly string[], events: DemoEventLike[]): void {
  const { random, now, incidents } = tools;
  const spike = incidents.has('bot_handoff_spike');
  for (let n = tools.count(2.5); n > 0; n -= 1) {
    const conversationId = tools.id('botconv', n);
    const botId = random.pick(bots);
    const channel = random.pick(channels);
    const started = tools.timeIn();
    const durationS = Math.round(random.lognormal(spike ? 420 : 180, 0.7));
    const ended = started + durationS * 1000;
    const base = { conversationId, botId, channel };
    events.push({ id: `${conversationId}-start`, type: 'bot.conversation_started', occurredAt: iso(started), attributes: base });
    if (ended >= now) continue;
    const status = random.weighted(spike ? ([['resolved', 35], ['escalated', 55], ['abandoned', 8], ['failed', 2]] as const) : ([['resolved', 72], ['escalated', 16], ['abandoned', 9], ['failed', 3]] as const));
    const messages = 2 + random.poisson(spike ? 9 : 5);
    const rated = random.chance(0.35);
    const satisfaction = status === 'resolved' ? random.weighted([[5, 5], [4, 4], [3, 1], [2, 0.3], [1, 0.2]]) : random.weighted([[1, 3], [2, 3], [3, 2], [4, 1]]);
    events.push({ id: `${conversationId}-end`, type: 'bot.conversation_ended', occurredAt: iso(ended), value: durationS, attributes: { ...base, status, messages, ...(rated && { satisfaction }) } });
  }
}

/** What a bot response reports besides its time: tokens, cost (USD at $10 per million tokens), fallback, knowledge-base lookup. */
export function botResponseExtras(tools: HourTools): Record<string, unknown> {
  const { random, incidents } = tools;
  const spike = incidents.has('bot_handoff_spike');
  const tokens = Math.round(random.lognormal(spike ? 900 : 550, 0.5));
  const lookup = random.chance(0.6);
  return {
    tokens,
    cost: Math.round(tokens * 10) / 1e6,
    fallback: random.chance(spike ? 0.3 : 0.05),
    ...(lookup && { knowledgeBase: random.chance(spike ? 0.45 : 0.82) ? 'hit' : 'miss' }),
  };
}

/** Contacts opting out: mostly by themselves, a few by agents or the system; many more during opt_out_spike. */
export function optOutEvents(tools: HourTools, contactOf: () => string, events: DemoEventLike[]): void {
  const { random, incidents } = tools;
  const spike = incidents.has('opt_out_spike');
  for (let n = tools.count(spike ? 0.9 : 0.1); n > 0; n -= 1) {
    const channel = random.weighted(spike ? ([['sms', 8], ['whatsapp', 1], ['email', 1]] as const) : ([['sms', 3], ['email', 4], ['whatsapp', 2], ['call', 1]] as const));
    const initiatedBy = random.weighted([['contact', 75], ['agent', 15], ['system', 10]] as const);
    events.push({ id: tools.id('optout', n), type: 'contact.opted_out', occurredAt: iso(tools.timeIn()), attributes: { contactId: contactOf(), channel, initiatedBy } });
  }
}

export { MARKETS };
