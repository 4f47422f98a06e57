import pg from 'pg';

/**
 * What the benchmark's PostgreSQL backends were doing: `pg_stat_activity`
 * sampled every `everyMs` from a connection of its own, each backend of the
 * benchmark's database counted by state (on CPU, waiting on a lock of some
 * kind, idle in its transaction while Node works) and by the statement it ran.
 * A backend that is "active" without a wait event is on a CPU or runnable
 * (waiting for one of the machine's cores), so "on CPU" includes the time it
 * waited for a core.
 */
export interface WaitSampler {
  /** Stops sampling and returns the counts. */
  stop(): Promise<WaitSamples>;
}

export interface WaitSamples {
  samples: number;
  /** Per (state, statement): how many backend samples. */
  counts: Map<string, number>;
}

/** A statement's short name: the tables it writes, the functions it folds with, or its first words. */
export function statementLabel(query: string): string {
  const text = query.replace(/\s+/g, ' ');
  // pg_stat_activity keeps the first track_activity_query_size bytes (1 kB): name the long statements by their start.
  const execute = /^EXECUTE (\w+)/.exec(text);
  if (execute) return `EXECUTE ${execute[1]} (+ COMMIT)`;
  if (/^(COMMIT|BEGIN|ROLLBACK)\b/i.test(text)) return text.split(/[ ;]/)[0]!.toUpperCase();
  const folds = [...new Set([...text.matchAll(/\b(fold_\w+|refresh_\w+)\(/g)].map((m) => m[1]!))];
  if (folds.length > 0) return folds.join('+');
  const written = [...new Set([...text.matchAll(/\b(?:INSERT INTO|(?<!DO )UPDATE|DELETE FROM) (\w+)/gi)].map((m) => m[1]!))];
  if (/FOR UPDATE/i.test(text)) written.push(`lock ${/FROM (\w+)/i.exec(text)?.[1] ?? '?'}`);
  if (written.length > 0) return written.join(' + ');
  return text.trim().slice(0, 60);
}

/** What a sample's backend was doing, as `state | statement`. */
function stateOf(row: { state: string | null; wait_event_type: string | null; wait_event: string | null }): string {
  if (row.state === 'idle in transaction') return 'idle in transaction (Node works)';
  if (row.wait_event_type === null) return 'on CPU (or waiting for a core)';
  return `${row.wait_event_type}:${row.wait_event}`;
}

export async function sampleWaits(url: string, everyMs = 50): Promise<WaitSampler> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const began = performance.now();
      const { rows } = await client.query<{ state: string | null; wait_event_type: string | null; wait_event: string | null; query: string }>(
        `SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
           AND state IN ('active', 'idle in transaction')`,
      );
      samples += 1;
      for (const row of rows) {
        const key = `${stateOf(row)} | ${row.state === 'idle in transaction' ? `after ${statementLabel(row.query)}` : statementLabel(row.query)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const left = everyMs - (performance.now() - began);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return { samples, counts };
    },
  };
}

/** The samples as a table: per state, then per statement within it, with shares of all backend samples. */
export function waitTable({ samples, counts }: WaitSamples): string[] {
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const byState = new Map<string, number>();
  for (const [key, n] of counts) {
    const state = key.split(' | ')[0]!;
    byState.set(state, (byState.get(state) ?? 0) + n);
  }
  const share = (n: number) => `${((100 * n) / Math.max(1, total)).toFixed(1)} %`;
  const lines = [`${samples} samples, ${total} backend samples (${(total / Math.max(1, samples)).toFixed(2)} busy backends on average)`, '', '| state | statement | samples | share |', '|---|---|---:|---:|'];
  for (const [state, n] of [...byState].sort((a, b) => b[1] - a[1])) {
    lines.push(`| **${state}** | all | ${n} | **${share(n)}** |`);
    const rows = [...counts].filter(([key]) => key.split(' | ')[0] === state).sort((a, b) => b[1] - a[1]);
    for (const [key, m] of rows) if (m >= 0.005 * total) lines.push(`| | ${key.split(' | ')[1]} | ${m} | ${share(m)} |`);
  }
  return lines;
}
