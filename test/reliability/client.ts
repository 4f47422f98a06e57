/**
 * An API client as a careful integration would write it: it sends to either
 * backend, and on a connection error or a 503 retries on the other one
 * (waiting Retry-After on a 503). Every attempt is recorded for the report.
 */
import { sleep } from './services.js';

export interface Sample {
  /** When the attempt ended (epoch ms). */
  at: number;
  kind: string;
  ms: number;
  /** HTTP status, or 0 for a connection error. */
  status: number;
  retryAfter: boolean;
}

export class Recorder {
  readonly samples: Sample[] = [];
  record(sample: Sample): void {
    this.samples.push(sample);
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

export class Client {
  private next = 0;
  constructor(
    private readonly backends: () => string[],
    private readonly recorder: Recorder,
  ) {}

  /** One attempt on one backend, recorded. */
  async once(baseUrl: string, kind: string, path: string, init: { key?: string; json?: unknown; body?: string; method?: string } = {}): Promise<Answer> {
    const started = performance.now();
    try {
      const response = await fetch(`${baseUrl}${path}`, {
        method: init.method ?? (init.json !== undefined || init.body !== undefined ? 'POST' : 'GET'),
        headers: { ...(init.key && { authorization: `Bearer ${init.key}` }), 'content-type': 'application/json' },
        body: init.body ?? (init.json !== undefined ? JSON.stringify(init.json) : undefined),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON: kept as text for the report.
      }
      this.recorder.record({ at: Date.now(), kind, ms: performance.now() - started, status: response.status, retryAfter: response.headers.has('retry-after') });
      return { status: response.status, headers: response.headers, body };
    } catch (error) {
      this.recorder.record({ at: Date.now(), kind, ms: performance.now() - started, status: 0, retryAfter: false });
      throw error;
    }
  }

  /** Sends until an answer other than a connection error or 503 arrives, alternating backends. */
  async send(kind: string, path: string, init: { key?: string; json?: unknown; body?: string } = {}, deadlineMs = 120_000): Promise<Answer> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const backends = this.backends();
      const baseUrl = backends[this.next++ % backends.length]!;
      let wait = 100;
      try {
        const answer = await this.once(baseUrl, kind, path, init);
        if (answer.status !== 503) return answer;
        wait = Math.min(Number(answer.headers.get('retry-after') ?? '1'), 5) * 1000;
      } catch {
        // Connection refused or reset: the other backend is tried next.
      }
      if (Date.now() > deadline) throw new Error(`${kind} ${path}: no answer within ${deadlineMs} ms`);
      await sleep(wait);
    }
  }
}
