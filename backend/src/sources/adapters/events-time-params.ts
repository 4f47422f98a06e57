/** Years 1-9999 (UTC): the instants sent as ISO text. */
const FIRST_ISO_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_ISO_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** Bounds already written; a few hundred per hour of dashboards, and odd callers cannot grow it without bound. */
const isoTexts = new Map<number, string>();
const MAX_TEXTS = 4_096;

/**
 * A statement's time bound as the parameter node-pg sends: ISO 8601 text in UTC, which PostgreSQL reads as the same
 * timestamptz. Given a Date, node-pg formats it itself with local-time getters and padStart, once per parameter of
 * every statement: 6-8 bounds per answer, a few hundred per dashboard load (0.9 ms of a cold Business overview load's
 * Node CPU; bench/README.md, issue 20, step 24). toISOString is one native call, and a bound seen before is looked up.
 * Outside years 1-9999 ISO text would carry a sign or a year 0 that PostgreSQL does not read, so such an instant stays
 * a Date (node-pg writes BC years).
 */
export function timeParam(ms: number): string | Date {
  if (!(ms >= FIRST_ISO_MS && ms <= LAST_ISO_MS)) return new Date(ms);
  // Bounds repeat (hours and days a dashboard's panels share, a band's history): each written once, a Map lookup after.
  let text = isoTexts.get(ms);
  if (text === undefined) {
    if (isoTexts.size >= MAX_TEXTS) isoTexts.clear();
    isoTexts.set(ms, (text = new Date(ms).toISOString()));
  }
  return text;
}
