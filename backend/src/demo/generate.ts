import { availabilityEvents, botConversationEvents, botResponseExtras, conversationEvents, optOutEvents, planConversation, type HourTools } from './conversations.js';
import { activeIncidents, type Incident, type IncidentKind } from './incidents.js';
import { Random } from './random.js';

/**
 * One hour of a demo organization's life: the operational events it sends to
 * Metrics Hub and the rows its module databases gain. Volumes follow a daily
 * curve (busy 9-18 UTC, quiet at night), a weekly one (weekends are slower)
 * and a slow growth trend; incidents bend the relevant probabilities.
 */

const HOUR = 3_600_000;

export interface DemoEvent {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes: Record<string, unknown>;
}

/**
 * Rows for the module databases, in the modules' own columns (demo/schema.ts).
 * Ids are demo ids; the writer turns the business tables' ids into UUIDs.
 */
export interface ModuleRows {
  prospects: Array<[id: string, createdAt: Date, updatedAt: Date, status: string]>;
  transactions: Array<[id: string, date: Date, type: string, category: string, description: string, amount: number]>;
  time_entries: Array<[id: string, date: Date, hours: number, billable: boolean, projectName: string, description: string]>;
  reviews: Array<[id: string, reviewedAt: Date, rating: number, source: string, reviewText: string]>;
  testimonials: Array<[id: string, createdAt: Date, rating: number, clientName: string, isPublic: boolean]>;
  contacts: Array<[id: string, createdAt: Date, leadSource: string, market: string]>;
  message_events: Array<[id: string, createdAt: Date, direction: string, status: string, agentId: string | null, contactId: string, sentAt: Date | null, deliveredAt: Date | null]>;
  call_events: Array<[id: string, startTime: Date, direction: string, callStatus: string, duration: number, queueTime: number, agentId: string | null, contactId: string, endTime: Date]>;
  conversations: Array<
    [id: string, createdAt: Date, firstResponseTime: number | null, resolutionTime: number | null, closedAt: Date | null, status: string, agentId: string, contactId: string, leadSource: string, market: string, product: string]
  >;
}

export function emptyRows(): ModuleRows {
  return { prospects: [], transactions: [], time_entries: [], reviews: [], testimonials: [], contacts: [], message_events: [], call_events: [], conversations: [] };
}

export const AGENTS = [
  ['agent-ana', 'Ana Silva', 'support'],
  ['agent-ben', 'Ben Okafor', 'support'],
  ['agent-chloe', 'Chloé Martin', 'sales'],
  ['agent-dev', 'Dev Patel', 'sales'],
  ['agent-eva', 'Eva Novak', 'support'],
  ['agent-farid', 'Farid Haddad', 'success'],
] as const;

const MARKETS = ['de', 'fr', 'uk', 'us'];
const PRODUCTS = ['basic', 'pro', 'enterprise'];

export const LEAD_SOURCES = [
  ['ls-google', 'Google Ads', 'paid', 5],
  ['ls-meta', 'Meta Ads', 'paid', 3],
  ['ls-seo', 'Organic search', 'organic', 6],
  ['ls-referral', 'Referrals', 'referral', 2],
  ['ls-events', 'Trade shows', 'offline', 1],
  ['ls-partners', 'Partners', 'referral', 2],
] as const;

const EMPLOYEES = ['maria', 'tom', 'lena', 'yusuf', 'aiko', 'pablo', 'ines', 'noah'];
const PROJECTS = ['website-relaunch', 'crm-migration', 'support-retainer', 'data-platform', 'internal'];
const CHANNELS = ['whatsapp', 'sms', 'email', 'webchat'] as const;
const BOTS = ['faq', 'booking', 'returns', 'sales'];

/** Relative traffic by UTC hour: a business-day bump with an evening shoulder for shop orders. */
function dailyCurve(hour: number): number {
  const business = Math.exp(-((hour - 13) ** 2) / (2 * 3.2 ** 2));
  const evening = 0.35 * Math.exp(-((hour - 20) ** 2) / (2 * 1.5 ** 2));
  return 0.08 + business + evening;
}

/** Relative traffic by weekday (0 = Sunday). */
const WEEKLY = [0.45, 1.0, 1.05, 1.05, 1.0, 0.9, 0.55];

export interface OrganizationPlan {
  name: string;
  slug: string;
  /** Volume multiplier: the second organization is a smaller business. */
  scale: number;
  incidents: Incident[];
}

export interface HourContext {
  plan: OrganizationPlan;
  random: Random;
  /** Start of the hour (epoch ms), start and end of the whole demo range. */
  hourStart: number;
  rangeStart: number;
  now: number;
  index: number;
}

/** A time inside the hour, never after `now` (ingestion refuses future events). */
function timeIn(context: HourContext): number {
  const end = Math.min(context.hourStart + HOUR, context.now);
  return Math.floor(context.random.between(context.hourStart, end));
}

const iso = (ms: number) => new Date(ms).toISOString();
const round2 = (value: number) => Math.round(value * 100) / 100;

function rating(random: Random, bad: boolean): number {
  return bad ? random.weighted([[1, 4], [2, 4], [3, 2], [4, 1], [5, 0.5]]) : random.weighted([[5, 6], [4, 3], [3, 0.7], [2, 0.2], [1, 0.2]]);
}

/** FNV-1a: a stable small number from a string. */
function stringHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  return hash;
}

/** The seed of an hour's extra stream: fixed per organization and hour. */
function extraSeed(slug: string, index: number): number {
  let hash = 16;
  for (const char of slug) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_003;
  return hash * 1_000_003 + index;
}

const WORKFLOW_SOURCES = ['crm', 'billing', 'shop'] as const;
const WORKFLOWS: Record<(typeof WORKFLOW_SOURCES)[number], string[]> = {
  crm: ['crm-contact-sync', 'lead-enrichment', 'follow-up-reminders'],
  billing: ['invoice-generation', 'payment-reconciliation'],
  shop: ['order-fulfilment', 'stock-update', 'abandoned-cart-emails'],
};
const WORKFLOW_ERRORS: Record<(typeof WORKFLOW_SOURCES)[number], string[]> = {
  crm: ['CRM API answered 429 Too Many Requests', 'contact has no email address', 'timeout after 30 s waiting for the CRM'],
  billing: ['payment provider answered 502 Bad Gateway', 'invoice template "default" not found', 'currency mismatch: EUR invoice for a USD account'],
  shop: ['SKU not found in the warehouse system', 'timeout after 30 s waiting for the shop API', 'address validation failed: postal code missing'],
};

/** What a failure spike looks like from the runs: the upstream API of each source is down. */
const OUTAGE_ERRORS: Record<(typeof WORKFLOW_SOURCES)[number], string> = {
  crm: 'CRM API answered 503 Service Unavailable',
  billing: 'payment provider answered 502 Bad Gateway',
  shop: 'shop API answered 503 Service Unavailable',
};

/**
 * A run's workflowId and, when it failed, its error message as the automation
 * layer reports them. During a failure spike most failures share one cause.
 */
function workflowDetails(random: Random, source: (typeof WORKFLOW_SOURCES)[number], status: string, spike: boolean): { workflowId: string; error?: string } {
  const workflowId = random.pick(WORKFLOWS[source]);
  if (status === 'SUCCESS') return { workflowId };
  if (status === 'FAILED_SAFETY_LIMIT') return { workflowId, error: random.pick(['safety limit reached: 1000 steps in one run', 'safety limit reached: 500 emails in one run']) };
  return { workflowId, error: spike && random.chance(0.8) ? OUTAGE_ERRORS[source] : random.pick(WORKFLOW_ERRORS[source]) };
}

export function generateHour(context: HourContext, events: DemoEvent[], rows: ModuleRows): void {
  const { random, plan, hourStart } = context;
  if (hourStart >= context.now) return;
  const date = new Date(hourStart);
  const hour = date.getUTCHours();
  const weekday = date.getUTCDay();
  const progress = (hourStart - context.rangeStart) / (context.now - context.rangeStart);
  const intensity = plan.scale * dailyCurve(hour) * WEEKLY[weekday]! * (0.9 + 0.2 * progress);
  const incidents: Set<IncidentKind> = activeIncidents(plan.incidents, hourStart);
  const id = (kind: string, n: number) => `${plan.slug}-${kind}-${context.index}-${n}`;
  const count = (base: number) => random.poisson(base * intensity);
  const agent = () => random.pick(AGENTS)[0];
  const contact = () => `${plan.slug}-contact-${Math.floor(random.next() * 500)}`;
  // Conversation, agent, bot and contact extras draw from their own stream, so the
  // older demo data (and the anomaly benchmark built on it) stays exactly as it was.
  const extra = new Random(extraSeed(plan.slug, context.index));
  const tools: HourTools = {
    random: extra,
    hourStart,
    now: context.now,
    incidents,
    id,
    count: (base) => extra.poisson(base * intensity),
    timeIn: () => Math.floor(extra.between(hourStart, Math.min(hourStart + HOUR, context.now))),
  };

  // Orders and payments
  for (let n = count(6); n > 0; n -= 1) {
    const at = timeIn(context);
    const value = round2(random.lognormal(60, 0.6));
    const channel = random.weighted([['web', 5], ['app', 3], ['pos', 2]] as const);
    const market = random.weighted([['de', 4], ['fr', 2], ['uk', 2], ['us', 3]] as const);
    events.push({ id: id('order', n), type: 'order.created', occurredAt: iso(at), value, attributes: { channel, market, product: random.pick(['basic', 'pro', 'enterprise']) } });
    const paid = random.chance(0.95);
    events.push({ id: id('payment', n), type: paid ? 'payment.succeeded' : 'payment.failed', occurredAt: iso(Math.min(at + 20_000, context.now - 1)), ...(paid && { value }), attributes: { channel, market } });
  }

  // Workflow runs
  const failureRate = incidents.has('workflow_failure_spike') ? 0.4 : 0.04;
  // Which workflow ran and why it failed draw from their own stream: the runs themselves stay as they were.
  const details = new Random(extraSeed(`${plan.slug}:workflows`, context.index));
  for (let n = count(5); n > 0; n -= 1) {
    const failed = random.chance(failureRate);
    const status = failed ? (random.chance(0.8) ? 'FAILED' : 'FAILED_SAFETY_LIMIT') : 'SUCCESS';
    const source = random.pick(WORKFLOW_SOURCES);
    events.push({
      id: id('workflow', n),
      type: 'workflow.finished',
      occurredAt: iso(timeIn(context)),
      value: Math.round(random.lognormal(failed ? 2500 : 1200, 0.8)),
      attributes: { status, source, ...workflowDetails(details, source, status, incidents.has('workflow_failure_spike')) },
    });
  }

  // Messages (events) and the Communications module's message log
  const deliveryRate = incidents.has('delivery_rate_drop') ? 0.6 : 0.97;
  for (let n = count(8); n > 0; n -= 1) {
    const at = timeIn(context);
    const channel = random.pick(CHANNELS);
    const agentId = agent();
    const messageId = id('msg', n);
    const sent: DemoEvent = { id: `${messageId}-sent`, type: 'message.sent', occurredAt: iso(at), attributes: { messageId, channel, agentId } };
    events.push(sent);
    const delivered = random.chance(deliveryRate);
    if (delivered) events.push({ id: `${messageId}-delivered`, type: 'message.delivered', occurredAt: iso(Math.min(at + 4_000, context.now - 1)), attributes: { messageId, channel, agentId } });
    const contactId = contact();
    sent.attributes.contactId = contactId;
    rows.message_events.push([messageId, new Date(at), 'outbound', delivered ? 'delivered' : 'failed', agentId, contactId, new Date(at), delivered ? new Date(Math.min(at + 4_000, context.now - 1)) : null]);
  }
  for (let n = count(5); n > 0; n -= 1) {
    const at = timeIn(context);
    const channel = random.pick(CHANNELS);
    const messageId = id('inbound', n);
    const received: DemoEvent = { id: messageId, type: 'message.received', occurredAt: iso(at), attributes: { messageId, channel } };
    events.push(received);
    const agentId = random.chance(0.8) ? agent() : null;
    const contactId = `${plan.slug}-contact-${Math.floor(random.next() * 500)}`;
    received.attributes.contactId = contactId;
    rows.message_events.push([messageId, new Date(at), 'inbound', 'received', agentId, contactId, null, null]);
  }

  // Calls (events and the module's call log)
  for (let n = count(2.5); n > 0; n -= 1) {
    const at = timeIn(context);
    const direction = random.chance(0.6) ? 'inbound' : 'outbound';
    const missed = random.chance(hour < 8 || hour >= 19 ? 0.35 : 0.1);
    const duration = missed ? 0 : Math.round(random.lognormal(180, 0.7));
    const agentId = missed && direction === 'inbound' ? null : agent();
    events.push({ id: id('call', n), type: 'call.finished', occurredAt: iso(at), value: duration, attributes: { direction, status: missed ? 'missed' : 'answered', ...(agentId && { agentId }) } });
    // Queue time is not drawn, so adding it left the rest of the demo's random sequence as it was.
    const queueTime = missed ? 45 + (n % 4) * 15 : 5 + ((n * 7) % 40);
    rows.call_events.push([id('call', n), new Date(at), direction, missed ? 'missed' : 'completed', duration, queueTime, agentId, `${plan.slug}-contact-${Math.floor(random.next() * 500)}`, new Date(at + (queueTime + duration) * 1000)]);
  }

  // Conversations: state changes as events (demo/conversations.ts), whole conversations in the module
  for (let n = count(1.5); n > 0; n -= 1) {
    const opened = timeIn(context);
    const channel = random.pick(CHANNELS);
    const agentId = agent();
    const firstResponseS = random.lognormal(240, 0.9);
    const resolutionH = random.lognormal(5, 0.8);
    const conversation = planConversation(tools, { id: id('conv', n), opened, channel, agentId, firstResponseS, resolutionH }, LEAD_SOURCES.map(([sourceId, , , weight]) => [sourceId, weight] as const));
    const first = events.length;
    conversationEvents(tools, conversation, events);
    const { firstResponse, closed, outcome } = conversation;
    // The contact is drawn where it always was, so the rest of the demo stream stays the same.
    const contactNumber = Math.floor(random.next() * 500);
    const contactId = `${plan.slug}-contact-${contactNumber}`;
    // The conversation's contact is the user whose conversation changed state (active_users).
    for (const event of events.slice(first)) if (event.type === 'conversation.status_changed') event.attributes.userId = contactId;
    const answered = firstResponse < context.now;
    const ended = outcome !== 'pending' && closed < context.now;
    rows.conversations.push([
      conversation.id,
      new Date(opened),
      answered ? Math.round((firstResponse - opened) / 1000) : null,
      ended && outcome === 'done' ? Math.round((closed - opened) / 1000) : null,
      ended ? new Date(closed) : null,
      ended ? outcome : answered && outcome !== 'pending' ? 'open' : 'pending',
      conversation.agentId,
      contactId,
      LEAD_SOURCES.find(([sourceId]) => sourceId === conversation.source)?.[1] ?? conversation.source,
      conversation.market,
      PRODUCTS[contactNumber % PRODUCTS.length]!,
    ]);
  }
  availabilityEvents(tools, AGENTS.map(([agentId]) => agentId), events);

  // Bots: responses (with tokens, cost, fallbacks, knowledge-base lookups) and whole conversations
  for (let n = count(6); n > 0; n -= 1) {
    // The user is derived from the event id rather than drawn, so the rest of the demo stream stays the same.
    const userId = `${plan.slug}-contact-${stringHash(id('bot', n)) % 500}`;
    events.push({ id: id('bot', n), type: 'bot.response', occurredAt: iso(timeIn(context)), value: Math.round(random.lognormal(400, 0.5)), attributes: { botId: random.pick(BOTS), channel: random.pick(CHANNELS), success: random.chance(0.96), userId, ...botResponseExtras(tools) } });
  }
  botConversationEvents(tools, BOTS, CHANNELS, events);

  // Contacts: opt-outs (contacted contacts come from message.sent's contactId)
  optOutEvents(tools, () => `${plan.slug}-contact-${Math.floor(extra.next() * 500)}`, events);

  // Bookkeeping
  const spike = incidents.has('revenue_spike');
  for (let n = count(spike ? 3 : 1.2); n > 0; n -= 1) {
    const amount = round2(random.lognormal(spike ? 600 : 180, 0.8));
    const category = random.weighted([['sales', 6], ['services', 3], ['subscriptions', 2]] as const);
    rows.transactions.push([id('income', n), new Date(timeIn(context)), 'income', category, `${category} (${random.pick(['operating', 'online'])} account)`, amount]);
  }
  for (let n = count(0.45); n > 0; n -= 1) {
    const category = random.weighted([['payroll', 3], ['rent', 1], ['software', 2], ['marketing', 2], ['travel', 1]] as const);
    rows.transactions.push([id('expense', n), new Date(timeIn(context)), 'expense', category, `${category} (operating account)`, round2(random.lognormal(120, 0.9))]);
  }

  // Time & Billing: employees log time during working hours on weekdays
  if (weekday >= 1 && weekday <= 5 && hour >= 8 && hour < 17) {
    const billableShare = incidents.has('billable_hours_drop') ? 0.35 : 0.78;
    const employees = EMPLOYEES.slice(0, Math.max(2, Math.round(EMPLOYEES.length * plan.scale)));
    employees.forEach((employee, n) => {
      if (!random.chance(0.85)) return;
      const billable = random.chance(billableShare);
      rows.time_entries.push([id('time', n), new Date(context.hourStart), round2(random.between(0.5, 1)), billable, billable ? random.pick(PROJECTS.slice(0, 4)) : 'internal', `work logged by ${employee}`]);
    });
  }

  // Reputation
  const badReviews = incidents.has('rating_drop');
  for (let n = count(badReviews ? 0.3 : 0.15); n > 0; n -= 1) {
    rows.reviews.push([id('review', n), new Date(timeIn(context)), rating(random, badReviews), random.weighted([['google', 5], ['trustpilot', 3], ['yelp', 1]] as const), `visited our ${random.pick(['berlin', 'lisbon', 'remote'])} office`]);
  }
  if (random.chance(0.02 * intensity)) rows.testimonials.push([id('testimonial', 0), new Date(timeIn(context)), rating(random, false), `client via ${random.pick(['email', 'website', 'video'])}`, random.chance(0.6)]);

  // Leads and prospects
  for (let n = count(0.8); n > 0; n -= 1) {
    const created = timeIn(context);
    const sourceId = random.weighted(LEAD_SOURCES.map(([key, , , weight]) => [key, weight] as const));
    const market = MARKETS[n % MARKETS.length]!;
    rows.contacts.push([id('contact', n), new Date(created), LEAD_SOURCES.find(([key]) => key === sourceId)![1], market]);
    events.push({ id: id('contact', n), type: 'contact.created', occurredAt: iso(created), attributes: { contactId: id('contact', n), source: sourceId, market } });
  }
  for (let n = count(0.6); n > 0; n -= 1) {
    const created = timeIn(context);
    const closes = created + Math.round(random.lognormal(12, 0.7) * 24 * HOUR);
    const outcome = random.weighted([['won', 35], ['lost', 45], ['open', 20]] as const);
    const closed = outcome !== 'open' && closes < context.now;
    // Draws the module no longer stores (lead source, owner, value) are kept so the random sequence stays the same.
    random.weighted(LEAD_SOURCES.map(([, name, , weight]) => [name, weight] as const));
    const stage = closed ? `closed_${outcome}` : random.weighted([['new', 3], ['qualified', 3], ['proposal', 2], ['negotiation', 1]] as const);
    random.pick(AGENTS);
    random.lognormal(3000, 0.7);
    // A closed prospect was last updated when it closed; an open one when it was created.
    rows.prospects.push([id('prospect', n), new Date(created), new Date(closed ? closes : created), stage]);
  }
}
