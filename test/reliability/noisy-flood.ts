/**
 * The noisy organization's flood (noisy-neighbour mode, issue 23), run as a
 * process of its own: its clients' work (2 MB bodies built and sent, hundreds
 * of answers a second read) then never delays the event loop that times the
 * quiet organization's requests, so the quiet latency measured is the
 * backend's, not the load generator's. Both still share the machine's cores.
 *
 *   node --import tsx test/reliability/noisy-flood.ts <backend url> <noisy API key>
 *
 * Prints `flooding` once it has started, floods until a line `stop` arrives
 * on stdin, then prints one JSON line: the count of answers by kind and
 * status, and the 5xx (or connection errors) it met.
 */
import readline from 'node:readline';

const DAY = 86_400_000;

export interface Sample {
  who: 'quiet' | 'noisy' | 'health';
  kind: string;
  ms: number;
  status: number;
}

export class Probe {
  readonly samples: Sample[] = [];
  constructor(private readonly baseUrl: string) {}

  async send(who: Sample['who'], kind: string, pathname: string, init: { key?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
    const started = performance.now();
    try {
      const response = await fetch(`${this.baseUrl}${pathname}`, {
        method: init.json !== undefined || init.body !== undefined ? 'POST' : 'GET',
        headers: { ...(init.key && { authorization: `Bearer ${init.key}` }), 'content-type': 'application/json', ...init.headers },
        body: init.body ?? (init.json !== undefined ? JSON.stringify(init.json) : undefined),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      this.samples.push({ who, kind, ms: performance.now() - started, status: response.status });
      return { status: response.status, text };
    } catch {
      this.samples.push({ who, kind, ms: performance.now() - started, status: 0 });
      return { status: 0, text: '' };
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function untilOver(over: () => boolean, work: () => Promise<unknown>, pauseMs = 0): Promise<void> {
  while (!over()) {
    await work();
    if (pauseMs) await sleep(pauseMs);
  }
}

/** The abusive patterns, each in its own loop. */
export function flood(probe: Probe, key: string, baseUrl: string, over: () => boolean): Promise<unknown>[] {
  const huge = { from: new Date(Date.now() - 399 * DAY).toISOString(), to: new Date().toISOString(), intervalMs: 1, maxDataPoints: 100_000 };
  const hugeQuery = (refId: string) => ({ refId, metric: 'orders_created', groupBy: ['product'], compareToPrevious: true });
  const queries = Array.from({ length: 4 }, () =>
    untilOver(over, () => probe.send('noisy', 'huge query', '/api/v1/query', { key, json: { ...huge, queries: [hugeQuery('A'), hugeQuery('B'), hugeQuery('C')] } })),
  );
  const exportParams = `from=${huge.from}&to=${huge.to}&intervalMs=1&maxDataPoints=100000&metric=orders_created&groupBy=product`;
  const exports = untilOver(over, () => probe.send('noisy', 'huge export', `/api/v1/export.csv?${exportParams}`, { key }));
  const hostile = untilOver(over, async () => {
    await probe.send('noisy', 'hostile', '/api/v1/query', { key, json: { from: '0001-01-01T00:00:00Z', to: huge.to, queries: [{ refId: 'A', metric: 'orders_created' }] } });
    await probe.send('noisy', 'hostile', '/api/v1/query', { key, json: { ...huge, queries: [{ refId: '__proto__', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'eq', value: 'a\u0000b' }] }] } });
    await probe.send('noisy', 'hostile', '/api/v1/events', { key, body: '{"events":[]}', headers: { 'content-encoding': 'gzip' } });
    await probe.send('noisy', 'hostile', '/api/v1/events', {
      key,
      json: { events: [{ id: `h-${Date.now()}`, type: 'Order.Created', occurredAt: new Date().toISOString(), attributes: { big: 'x'.repeat(2_000_000) } }] },
    });
  });
  // Twenty streams at 250 ms, reopened as soon as they end or are refused.
  const streams = Array.from({ length: 20 }, () =>
    untilOver(
      over,
      async () => {
        const started = performance.now();
        const controller = new AbortController();
        const stop = setInterval(() => over() && controller.abort(), 200);
        try {
          const response = await fetch(`${baseUrl}/api/v1/live?metrics=orders_created,order_value&intervalMs=250`, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
          probe.samples.push({ who: 'noisy', kind: 'live stream', ms: performance.now() - started, status: response.status });
          await response.text().catch(() => undefined);
        } catch {
          // Aborted at the end of the phase.
        } finally {
          clearInterval(stop);
        }
      },
      250,
    ),
  );
  return [...queries, exports, hostile, ...streams];
}

export interface FloodReport {
  /** `<kind> <status>` -> answers. */
  counts: Record<string, number>;
  /** Answers 5xx or connection errors (status 0), by kind. */
  failures: Array<{ kind: string; status: number }>;
}

async function main(baseUrl: string, key: string): Promise<void> {
  const probe = new Probe(baseUrl);
  let over = false;
  const lines = readline.createInterface({ input: process.stdin });
  const stopped = new Promise<void>((resolve) => lines.on('line', (line) => line.trim() === 'stop' && resolve()));
  const loops = flood(probe, key, baseUrl, () => over);
  console.log('flooding');
  await stopped;
  over = true;
  await Promise.all(loops);
  lines.close();
  const counts: Record<string, number> = {};
  for (const s of probe.samples) counts[`${s.kind} ${s.status}`] = (counts[`${s.kind} ${s.status}`] ?? 0) + 1;
  const failures = probe.samples.filter((s) => s.status >= 500 || s.status === 0).map(({ kind, status }) => ({ kind, status }));
  console.log(JSON.stringify({ counts, failures } satisfies FloodReport));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [baseUrl, key] = process.argv.slice(2);
  if (!baseUrl || !key) {
    console.error('usage: noisy-flood.ts <backend url> <noisy API key>');
    process.exit(2);
  }
  await main(baseUrl, key);
  // Sockets of aborted streams may linger: the report is out, so nothing is left to wait for.
  process.exit(0);
}
