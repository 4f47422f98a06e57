/**
 * A synthetic, reproducible stream of business events for the ingest benchmark:
 * the built-in types in plausible proportions, a few dimension values each, and
 * times that advance through the stream (as a live feed or a backfill does), so
 * concurrent batches hit the same hourly rollup rows.
 */

export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BenchEvent {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes: Record<string, unknown>;
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const CHANNELS = ['web', 'pos', 'app', 'whatsapp'];
const MARKETS = ['de', 'fr', 'uk', 'us', 'es'];
const BOTS = ['faq', 'booking', 'support', 'sales', 'returns'];
const AGENTS = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
const STATES = ['open', 'pending', 'done', 'spam', 'unsubscribe'];
/** Contacts and users the distinct metrics count: a pool per kind, so values repeat across batches. */
const CONTACTS = 50_000;
const USERS = 20_000;

/** Time-ordered stream: event i happens around start + i * span / total, jittered by up to 30 min. */
export function eventAt(index: number, total: number, start: number, spanMs: number, random: () => number): BenchEvent {
  const occurredAt = new Date(Math.round(start + (index / total) * spanMs - random() * 1_800_000)).toISOString();
  const id = `evt-${index}`;
  const roll = random();
  const lognormal = (median: number, sigma: number) => Math.exp(Math.log(median) + sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  if (roll < 0.15) return { id, type: 'order.created', occurredAt, value: Math.round(lognormal(60, 0.7) * 100) / 100, attributes: { channel: pick(random, CHANNELS), market: pick(random, MARKETS), orderId: `o-${index}` } };
  if (roll < 0.25) return { id, type: 'payment.succeeded', occurredAt, value: Math.round(lognormal(60, 0.7) * 100) / 100, attributes: { market: pick(random, MARKETS) } };
  if (roll < 0.27) return { id, type: 'payment.failed', occurredAt, attributes: { market: pick(random, MARKETS), reason: 'card_declined' } };
  if (roll < 0.42) {
    const status = random() < 0.9 ? 'SUCCESS' : random() < 0.8 ? 'FAILED' : 'FAILED_SAFETY_LIMIT';
    return { id, type: 'workflow.finished', occurredAt, value: Math.round(lognormal(1200, 1)), attributes: { status, source: pick(random, ['crm', 'billing', 'shop']) } };
  }
  // Messages: delivery callbacks refer to a small pool of ids, so many are repeats that must count once.
  if (roll < 0.57) return { id, type: 'message.sent', occurredAt, attributes: { messageId: `msg-${index}`, channel: pick(random, CHANNELS), contactId: `c-${Math.floor(random() * CONTACTS)}` } };
  if (roll < 0.71) return { id, type: 'message.delivered', occurredAt, attributes: { messageId: `msg-${Math.floor(index / 3)}`, channel: pick(random, CHANNELS) } };
  if (roll < 0.76) return { id, type: 'message.received', occurredAt, attributes: { messageId: `in-${index}`, channel: pick(random, CHANNELS), contactId: `c-${Math.floor(random() * CONTACTS)}` } };
  if (roll < 0.81) {
    return { id, type: 'call.finished', occurredAt, value: Math.round(lognormal(180, 0.8)), attributes: { direction: pick(random, ['inbound', 'outbound']), status: random() < 0.85 ? 'answered' : 'missed', agentId: pick(random, AGENTS) } };
  }
  if (roll < 0.86) {
    return { id, type: 'conversation.status_changed', occurredAt, attributes: { from: pick(random, STATES), to: pick(random, STATES), agentId: pick(random, AGENTS), userId: `u-${Math.floor(random() * USERS)}` } };
  }
  if (roll < 0.96) {
    return { id, type: 'bot.response', occurredAt, value: Math.round(lognormal(350, 0.6)), attributes: { botId: pick(random, BOTS), success: random() < 0.95, userId: `u-${Math.floor(random() * USERS)}` } };
  }
  return { id, type: 'invoice.paid', occurredAt, value: Math.round(lognormal(400, 0.9)), attributes: { product: pick(random, ['basic', 'pro', 'enterprise']) } };
}
