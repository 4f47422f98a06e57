import type { Severity } from './detectors/types.js';

/**
 * Alert lifecycle per (organization, rule, series), as Grafana alerting does it:
 * normal -> pending on a breach; pending -> firing once the breach lasted the
 * rule's `for`; firing -> resolved once the value stayed clear for
 * `keepFiringFor`. Pure: the store applies what this returns.
 */
export type AlertState = 'normal' | 'pending' | 'firing';
export type TransitionTarget = AlertState | 'resolved';

export interface StateRecord {
  state: AlertState;
  severity: Severity;
  stateSince: number;
  /** While firing: when the breach cleared (null while still breaching). */
  clearSince: number | null;
  firingSince: number | null;
}

export interface Timing {
  forMs: number;
  keepFiringForMs: number;
}

export interface Transition {
  from: AlertState;
  to: TransitionTarget;
  severity: Severity;
}

export function nextState(previous: StateRecord | undefined, at: number, severity: Severity, timing: Timing): { record: StateRecord; transition?: Transition } {
  const breach = severity !== 'healthy';
  const current: StateRecord = previous ?? { state: 'normal', severity: 'healthy', stateSince: at, clearSince: null, firingSince: null };

  switch (current.state) {
    case 'normal': {
      if (!breach) return { record: { ...current, severity: 'healthy' } };
      if (timing.forMs <= 0) {
        return { record: { state: 'firing', severity, stateSince: at, clearSince: null, firingSince: at }, transition: { from: 'normal', to: 'firing', severity } };
      }
      return { record: { state: 'pending', severity, stateSince: at, clearSince: null, firingSince: null }, transition: { from: 'normal', to: 'pending', severity } };
    }
    case 'pending': {
      if (!breach) {
        return { record: { state: 'normal', severity: 'healthy', stateSince: at, clearSince: null, firingSince: null }, transition: { from: 'pending', to: 'normal', severity: 'healthy' } };
      }
      if (at - current.stateSince >= timing.forMs) {
        return { record: { state: 'firing', severity, stateSince: at, clearSince: null, firingSince: at }, transition: { from: 'pending', to: 'firing', severity } };
      }
      return { record: { ...current, severity } };
    }
    case 'firing': {
      if (breach) {
        const record: StateRecord = { ...current, severity, clearSince: null };
        // A change of severity while firing is news worth a history row (warning -> critical).
        return severity !== current.severity ? { record, transition: { from: 'firing', to: 'firing', severity } } : { record };
      }
      const clearSince = current.clearSince ?? at;
      if (at - clearSince >= timing.keepFiringForMs) {
        return {
          record: { state: 'normal', severity: 'healthy', stateSince: at, clearSince: null, firingSince: null },
          transition: { from: 'firing', to: 'resolved', severity: current.severity },
        };
      }
      return { record: { ...current, clearSince } };
    }
  }
}
