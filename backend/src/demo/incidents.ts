/**
 * Incidents injected into the demo data, so anomaly rules and dashboards have
 * something true to find. Their windows are written to a JSON file next to the
 * data, which is how a reader (or a test) knows where the anomalies are.
 */
export const INCIDENT_KINDS = [
  'revenue_spike',
  'billable_hours_drop',
  'rating_drop',
  'workflow_failure_spike',
  'delivery_rate_drop',
  // Conversations, agents, bots and contacts (demo/conversations.ts)
  'spam_wave',
  'satisfaction_drop',
  'bot_handoff_spike',
  'opt_out_spike',
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export interface Incident {
  organization: string;
  kind: IncidentKind;
  /** Catalog metrics in which the incident shows. */
  metrics: string[];
  /** ISO times, [start, end). */
  start: string;
  end: string;
  description: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Template {
  kind: IncidentKind;
  metrics: string[];
  /** Start as a fraction of the demo range, snapped to the hour; duration in hours. */
  at: number;
  hours: number;
  description: string;
}

const TEMPLATES: Template[] = [
  { kind: 'billable_hours_drop', metrics: ['billable_hours', 'utilisation'], at: 0.62, hours: 5 * 24, description: 'Billable share of logged hours falls from ~78% to ~35% for five days.' },
  { kind: 'revenue_spike', metrics: ['revenue', 'profit'], at: 0.78, hours: 24, description: 'A day of income about 8x the usual (a large one-off contract).' },
  { kind: 'rating_drop', metrics: ['average_rating'], at: 0.84, hours: 4 * 24, description: 'Review ratings fall from ~4.4 to ~2.2 stars for four days.' },
  { kind: 'workflow_failure_spike', metrics: ['workflow_failure_rate', 'workflows_failed'], at: 0.9, hours: 6, description: 'Workflow failure rate jumps from ~4% to ~40% for six hours.' },
  { kind: 'delivery_rate_drop', metrics: ['delivery_rate', 'messages_delivered'], at: 0.95, hours: 8, description: 'Message delivery rate drops from ~97% to ~60% for eight hours.' },
  // Conversations, agents, bots and contacts
  { kind: 'spam_wave', metrics: ['spam_rate', 'conversations_spam'], at: 0.55, hours: 8, description: 'Spam rate of opened conversations rises from ~6% to ~45% for eight hours.' },
  { kind: 'satisfaction_drop', metrics: ['conversation_satisfaction', 'conversation_first_response_s', 'conversation_resolution_s'], at: 0.7, hours: 3 * 24, description: 'Agents answer three times slower and satisfaction falls from ~4.2 to ~2.2 for three days.' },
  { kind: 'bot_handoff_spike', metrics: ['bot_handoff_rate', 'bot_fallback_rate', 'bot_knowledge_hit_rate', 'bot_cost'], at: 0.86, hours: 6, description: 'Bots hand off ~55% of conversations (from ~16%), fall back 6x as often and use more tokens for six hours.' },
  { kind: 'opt_out_spike', metrics: ['opt_out_rate', 'opt_outs'], at: 0.76, hours: 2 * 24, description: 'SMS opt-outs run about 8x the usual for two days (a badly targeted campaign).' },
];

/**
 * Incident windows for one organization over [from, to). `shiftDays` moves
 * them so two organizations do not have their incidents at the same time.
 */
export function planIncidents(organization: string, from: number, to: number, shiftDays: number): Incident[] {
  return TEMPLATES.map((template) => {
    const raw = from + (to - from) * template.at - shiftDays * DAY;
    const start = Math.floor(raw / HOUR) * HOUR;
    // Business-hours incidents start at 09:00 UTC so they are visible against daytime traffic.
    let aligned = template.hours < 24 ? Math.floor(start / DAY) * DAY + 9 * HOUR : Math.floor(start / DAY) * DAY;
    // Whole days earlier if the window would run past the end of the data.
    const overflow = aligned + template.hours * HOUR - to;
    if (overflow > 0) aligned -= Math.ceil(overflow / DAY) * DAY;
    return {
      organization,
      kind: template.kind,
      metrics: template.metrics,
      start: new Date(aligned).toISOString(),
      end: new Date(aligned + template.hours * HOUR).toISOString(),
      description: template.description,
    };
  });
}

/** The incidents active at `time`, by kind. */
export function activeIncidents(incidents: Incident[], time: number): Set<IncidentKind> {
  const active = new Set<IncidentKind>();
  for (const incident of incidents) {
    if (time >= Date.parse(incident.start) && time < Date.parse(incident.end)) active.add(incident.kind);
  }
  return active;
}
