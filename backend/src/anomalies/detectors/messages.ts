import type { Finding } from './types.js';

/**
 * How a metric is shown to people. `ratio` values are fractions shown as percent (0.2 -> 20%),
 * `percent` values are already percent; any other unit (EUR, ms, h, calls) follows the number.
 */
export interface MetricDisplay {
  label: string;
  unit?: string;
  /** Fraction digits; by default fewer as the number grows (0.25, 12.5, 1,250). */
  decimals?: number;
}

export interface MessageContext {
  /** When the metric left the healthy state; shown as "since 14:00". Defaults to the finding's time. */
  since?: number;
  /** IANA time zone for "since"; UTC by default. */
  timeZone?: string;
  /**
   * The rule's own advice, overriding the default; `{since}`, `{label}`, `{observed}`,
   * `{expected}` and `{bound}` are filled in, e.g. "Check the workflows with the most failures since {since}."
   */
  recommendation?: string;
}

export interface FindingText {
  message: string;
  recommendation: string;
}

export function formatValue(value: number, display: Pick<MetricDisplay, 'unit' | 'decimals'>): string {
  const unit = display.unit ?? '';
  const shown = unit === 'ratio' ? value * 100 : value;
  const size = Math.abs(shown);
  const digits = display.decimals ?? (size >= 100 ? 0 : size >= 10 ? 1 : 2);
  const text = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(shown);
  if (unit === 'ratio' || unit === 'percent' || unit === '%') return `${text}%`;
  return unit === '' ? text : `${text} ${unit}`;
}

function formatTime(time: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone }).format(time);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const DEFAULT_ADVICE: Record<Finding['rule'], Record<'above' | 'below', string>> = {
  threshold: {
    above: 'Check what has driven {label} up since {since}, starting with the largest contributors.',
    below: 'Check what has held {label} down since {since}: a stopped source, a failing channel or a change released then.',
  },
  change: {
    above: 'Compare with the previous period to find what drove the rise since {since}.',
    below: 'Compare with the previous period to find where the drop comes from since {since}.',
  },
  baseline: {
    above: '{label} is unusually high for this time of the week; check the largest contributors since {since}.',
    below: '{label} is unusually low for this time of the week; check for an outage, a stopped campaign or missing data since {since}.',
  },
};

/**
 * A finding in plain business words:
 * "Workflow failure rate 20% (expected < 5%)." / "Revenue 5,200 EUR, down 48% vs the previous
 * period (10,000 EUR)." / "Orders 12, usually about 40 at this time (alert below 25)."
 */
export function describeFinding(finding: Finding, display: MetricDisplay, context: MessageContext = {}): FindingText {
  const value = (v: number) => formatValue(v, display);
  const label = display.label;
  let message: string;
  if (finding.rule === 'threshold') {
    const relation = finding.direction === 'above' ? '<' : '>';
    message = `${label} ${value(finding.observed)} (expected ${relation} ${value(finding.expected)}).`;
  } else if (finding.rule === 'change') {
    const delta = finding.deltaPercent;
    const movement =
      delta === null || delta === undefined
        ? 'too little volume to compare with the previous period'
        : `${delta >= 0 ? 'up' : 'down'} ${formatValue(Math.abs(delta), { unit: 'percent', decimals: 0 })} vs the previous period`;
    message = `${label} ${value(finding.observed)}, ${movement} (${value(finding.expected)}).`;
  } else {
    const side = finding.direction === 'above' ? 'above' : 'below';
    message = `${label} ${value(finding.observed)}, usually about ${value(finding.expected)} at this time (alert ${side} ${value(finding.bound)}).`;
  }
  const template = context.recommendation ?? DEFAULT_ADVICE[finding.rule][finding.direction];
  const fills: Record<string, string> = {
    since: formatTime(context.since ?? finding.time, context.timeZone ?? 'UTC'),
    label,
    observed: value(finding.observed),
    expected: value(finding.expected),
    bound: value(finding.bound),
  };
  const recommendation = capitalise(template.replace(/\{(\w+)\}/g, (whole, key: string) => fills[key] ?? whole));
  return { message, recommendation };
}
