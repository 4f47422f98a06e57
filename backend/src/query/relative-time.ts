/**
 * Grafana's relative times, as people type them in curl: `now`, `now-7d`,
 * `now-1h`, `now+30m`, with an optional rounding to the start of a unit in UTC
 * (`now/d`, `now-1d/d`). Units: s, m, h, d, w, M (months), y.
 */
const RELATIVE = /^now(?:([+-])(\d+)([smhdwMy]))?(?:\/([smhdwMy]))?$/;

const FIXED_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const RELATIVE_TIME_HINT = 'a Grafana relative time such as now, now-1h, now-7d or now/d';

function shift(time: Date, sign: number, amount: number, unit: string): Date {
  const out = new Date(time);
  if (unit === 'M') out.setUTCMonth(out.getUTCMonth() + sign * amount);
  else if (unit === 'y') out.setUTCFullYear(out.getUTCFullYear() + sign * amount);
  else out.setTime(out.getTime() + sign * amount * FIXED_MS[unit]!);
  return out;
}

/** Start of the unit containing `time`, in UTC; weeks start on Monday, as in ISO-8601. */
function roundDown(time: Date, unit: string): Date {
  const out = new Date(time);
  switch (unit) {
    case 'y':
      out.setUTCMonth(0, 1);
      out.setUTCHours(0, 0, 0, 0);
      break;
    case 'M':
      out.setUTCDate(1);
      out.setUTCHours(0, 0, 0, 0);
      break;
    case 'w':
      out.setUTCDate(out.getUTCDate() - ((out.getUTCDay() + 6) % 7));
      out.setUTCHours(0, 0, 0, 0);
      break;
    case 'd':
      out.setUTCHours(0, 0, 0, 0);
      break;
    default:
      out.setTime(Math.floor(out.getTime() / FIXED_MS[unit]!) * FIXED_MS[unit]!);
  }
  return out;
}

/** The time `text` names relative to `now`, or undefined when it is not a relative time. */
export function parseRelativeTime(text: string, now: Date = new Date()): Date | undefined {
  const match = RELATIVE.exec(text.trim());
  if (!match) return undefined;
  const [, sign, amount, unit, round] = match;
  let time = sign ? shift(now, sign === '-' ? -1 : 1, Number(amount), unit!) : new Date(now);
  if (round) time = roundDown(time, round);
  return time;
}
