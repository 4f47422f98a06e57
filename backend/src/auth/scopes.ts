/**
 * Key scopes. A key is given exactly what its holder needs: Grafana reads,
 * event producers ingest, operators administer. `admin` includes the other two.
 */
export const SCOPES = ['read', 'ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function scopeAllows(has: Scope, needs: Scope): boolean {
  return has === needs || has === 'admin';
}

/** Read routes that take their question in a POST body. */
const READ_POSTS = new Set(['/query', '/variables']);

/**
 * The scope a route under /api/v1 needs. Reads are the GETs and the two
 * question POSTs; writing events needs `ingest`; everything else (admin
 * routes, key management, cache clears and any route not listed) needs
 * `admin`, so a new write route is never open to a read key by accident.
 */
export function scopeForRoute(method: string, path: string): Scope {
  if (path.startsWith('/admin/') || path === '/keys' || path.startsWith('/keys/')) return 'admin';
  if (method === 'POST' && path === '/events') return 'ingest';
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'POST' && READ_POSTS.has(path)) return 'read';
  return 'admin';
}

export class InvalidScopeError extends Error {
  constructor(value: string) {
    super(`unknown scope '${value}': use one of ${SCOPES.join(', ')} (read: Grafana and dashboards; ingest: event producers; admin: operators)`);
    this.name = 'InvalidScopeError';
  }
}

export function parseScope(value: string): Scope {
  if (!isScope(value)) throw new InvalidScopeError(value);
  return value;
}
