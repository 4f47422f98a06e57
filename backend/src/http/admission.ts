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
  /** 0: no queue, refuse at once when full (live streams). */
  queueMs: number;
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

  constructor(
    readonly name: string,
    readonly limits: AdmissionLimits,
  ) {}

  /** Slots in use by one owner (tests and metrics). */
  inUse(owner?: string): number {
    return owner === undefined ? this.running : (this.byOwner.get(owner) ?? 0);
  }

  private fits(owner: string): boolean {
    return this.running < this.limits.total && (this.byOwner.get(owner) ?? 0) < this.limits.perOwner;
  }

  private take(owner: string): Release {
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

  private admitNext(): void {
    const index = this.queue.findIndex((waiter) => this.fits(waiter.owner));
    if (index >= 0) this.queue.splice(index, 1)[0]!.admit();
  }

  /** A slot now, or after a short wait; AdmissionRefused (429) when none frees up in time. */
  acquire(owner: string): Promise<Release> {
    if (this.fits(owner) && !this.queue.some((waiter) => waiter.owner === owner)) return Promise.resolve(this.take(owner));
    const refusal = () =>
      new AdmissionRefused(
        this.running >= this.limits.total
          ? `this server is busy (${this.limits.total} ${this.name} at once); retry shortly`
          : `too many ${this.name} at once for this ${this.name === 'live streams' ? 'API key' : 'organization'} (limit ${this.limits.perOwner}); retry when earlier ones have finished`,
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
