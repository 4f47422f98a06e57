import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { principalOf } from '../auth/middleware.js';
import { HttpError } from './errors.js';

/**
 * Fair sharing of heavy work (issue 23): at most `perOwner` requests of one
 * owner (an organization, or an API key for streams) run at once in this
 * process, at most `total` of all owners together. The rest wait up to
 * `queueMs` for a slot, and a freed slot goes to the longest-waiting request
 * whose owner is under its own cap, so a flooding organization queues behind
 * itself, never in front of the others. Past the wait: 429 with Retry-After.
 */
export interface AdmissionLimits {
  perOwner: number;
  total: number;
  /** 0: no queue, refuse at once when full. */
  queueMs: number;
  /**
   * Requests one owner may start per second while another owner is active
   * too (bursts of twice as many pass at once); undefined or 0: no limit.
   * The slots above bound work in flight, not its rate: an owner whose
   * requests each end in a few milliseconds would otherwise take most of the
   * process, one small request after another. Alone, an owner is never held.
   */
  perOwnerPerSecond?: number;
}

/** An owner counts as active for this long after it last started a request. */
const ACTIVE_MS = 1_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class AdmissionRefused extends HttpError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, undefined, { 'Retry-After': String(retryAfterSeconds) });
    this.name = 'AdmissionRefused';
  }
}

interface Waiter {
  owner: string;
  admit: () => void;
}

export type Release = () => void;

export class Admission {
  private running = 0;
  private readonly byOwner = new Map<string, number>();
  private readonly queue: Waiter[] = [];
  /** Per owner: its rate tokens and when it last started a request. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly lastStart = new Map<string, number>();
  private retry: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    readonly limits: AdmissionLimits,
  ) {}

  /** Slots in use by one owner (tests and metrics). */
  inUse(owner?: string): number {
    return owner === undefined ? this.running : (this.byOwner.get(owner) ?? 0);
  }

  /** Requests waiting for a slot, of one owner or of all (tests and metrics). */
  waiting(owner?: string): number {
    return owner === undefined ? this.queue.length : this.queue.filter((waiter) => waiter.owner === owner).length;
  }

  private fits(owner: string, now = performance.now()): boolean {
    return this.running < this.limits.total && (this.byOwner.get(owner) ?? 0) < this.limits.perOwner && this.rateAllows(owner, now);
  }

  private get rate(): number {
    return this.limits.perOwnerPerSecond ?? 0;
  }

  private refill(owner: string, now: number): Bucket {
    const burst = 2 * this.rate;
    const bucket = this.buckets.get(owner) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    this.buckets.set(owner, bucket);
    return bucket;
  }

  /** Another owner has work in flight or started some within ACTIVE_MS. */
  private contended(owner: string, now: number): boolean {
    for (const [other, at] of this.lastStart) {
      if (other === owner) continue;
      if (now - at <= ACTIVE_MS || this.byOwner.has(other)) return true;
      this.lastStart.delete(other);
      this.buckets.delete(other);
    }
    return false;
  }

  private rateAllows(owner: string, now: number): boolean {
    if (this.rate <= 0 || !this.contended(owner, now)) return true;
    return this.refill(owner, now).tokens >= 1;
  }

  private take(owner: string): Release {
    if (this.rate > 0) {
      const now = performance.now();
      const bucket = this.refill(owner, now);
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      this.lastStart.set(owner, now);
    }
    this.running += 1;
    this.byOwner.set(owner, (this.byOwner.get(owner) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      const left = (this.byOwner.get(owner) ?? 1) - 1;
      if (left === 0) this.byOwner.delete(owner);
      else this.byOwner.set(owner, left);
      this.admitNext();
    };
  }

  /** Admits every waiter that fits now, longest-waiting first; checks again when the next rate token is due. */
  private admitNext(): void {
    for (;;) {
      const now = performance.now();
      const index = this.queue.findIndex((waiter) => this.fits(waiter.owner, now));
      if (index < 0) break;
      this.queue.splice(index, 1)[0]!.admit();
    }
    if (this.rate > 0 && this.queue.length > 0 && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.admitNext();
      }, Math.ceil(1000 / this.rate));
      this.retry.unref();
    }
  }

  /** A slot now, or after a short wait; AdmissionRefused (429) when none frees up in time. */
  acquire(owner: string): Promise<Release> {
    if (this.fits(owner) && !this.queue.some((waiter) => waiter.owner === owner)) return Promise.resolve(this.take(owner));
    const who = this.name === 'live streams' ? 'API key' : 'organization';
    const refusal = () =>
      new AdmissionRefused(
        this.running >= this.limits.total
          ? `this server is busy (${this.limits.total} ${this.name} at once); retry shortly`
          : (this.byOwner.get(owner) ?? 0) >= this.limits.perOwner
            ? `too many ${this.name} at once for this ${who} (limit ${this.limits.perOwner}); retry when earlier ones have finished`
            : `too many ${this.name} per second for this ${who} while others are served too (limit ${this.rate} a second); retry shortly`,
        1,
      );
    if (this.limits.queueMs === 0) return Promise.reject(refusal());
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        admit: () => {
          clearTimeout(timer);
          resolve(this.take(owner));
        },
      };
      const timer = setTimeout(() => {
        this.queue.splice(this.queue.indexOf(waiter), 1);
        reject(refusal());
      }, this.limits.queueMs);
      this.queue.push(waiter);
      // Held by the rate alone, no release would wake it: admitNext keeps a timer while anyone waits.
      this.admitNext();
    });
  }
}

/**
 * Admits each request by its organization before it runs, and frees the
 * slot when its response is done (or the client went away).
 */
export function admitByOrganization(admission: Admission, registry: Registry): RequestHandler {
  const refused =
    (registry.getSingleMetric('metricshub_admission_refused_total') as Counter<'kind'> | undefined) ??
    new Counter({ name: 'metricshub_admission_refused_total', help: 'Requests and streams answered 429 because their organization, key or the process was at its limit', labelNames: ['kind'], registers: [registry] });
  return (req: Request, res: Response, next: NextFunction): void => {
    admission.acquire(principalOf(req).organizationId).then(
      (release) => {
        res.once('close', release);
        if (res.writableEnded || res.destroyed) release();
        next();
      },
      (error: unknown) => {
        refused.inc({ kind: admission.name });
        next(error);
      },
    );
  };
}
