/**
 * PostgreSQL connection strings naming several servers, as libpq takes them:
 * `postgres://user:pw@host1:5432,host2:5433/db?target_session_attrs=read-write`.
 * node-postgres connects to one host only, so the list is split here into one
 * single-host URL per server (same user, database and parameters), in order.
 *
 * `DATABASE_READ_URL` may also be a comma-separated list of whole URLs
 * (`postgres://a/db,postgres://b/db`); both forms give the same list.
 */
const SCHEME = /^(postgres(?:ql)?:\/\/)/i;
const AUTHORITY = /^(postgres(?:ql)?:\/\/)(?:([^@/?#]*)@)?([^/?#]*)(.*)$/i;

/** libpq parameters node-postgres does not know: this module implements their meaning itself. */
const HANDLED_HERE = ['target_session_attrs'];

export class DatabaseUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUrlError';
  }
}

function withoutHandledParams(rest: string): string {
  const at = rest.indexOf('?');
  if (at < 0) return rest;
  const params = new URLSearchParams(rest.slice(at + 1));
  for (const name of HANDLED_HERE) params.delete(name);
  const query = params.toString();
  return `${rest.slice(0, at)}${query ? `?${query}` : ''}`;
}

/** Splits one libpq-style URL into a URL per host; throws DatabaseUrlError naming what is wrong. */
function splitHosts(url: string): string[] {
  const match = AUTHORITY.exec(url.trim());
  if (!match) throw new DatabaseUrlError('must be a URL starting with postgres:// or postgresql://');
  const [, scheme, credentials, hostList, rest] = match as unknown as [string, string, string | undefined, string, string];
  const hosts = hostList.split(',').map((host) => host.trim());
  if (hosts.some((host) => host === '')) throw new DatabaseUrlError(`'${hostList}' has an empty host between commas`);
  return hosts.map((host) => {
    const single = `${scheme}${credentials !== undefined ? `${credentials}@` : ''}${host}${withoutHandledParams(rest)}`;
    try {
      new URL(single);
    } catch {
      throw new DatabaseUrlError(`host '${host}' does not make a valid URL`);
    }
    return single;
  });
}

/**
 * One URL per server, in the order given. Accepts a libpq multi-host URL, a
 * comma-separated list of URLs, or a mix; never returns an empty list.
 */
export function serverUrls(value: string): string[] {
  // A new URL starts wherever a comma is followed by a scheme; other commas separate hosts.
  const parts = value.split(/,(?=\s*postgres(?:ql)?:\/\/)/i).map((part) => part.trim());
  if (parts.some((part) => !SCHEME.test(part))) throw new DatabaseUrlError('must be a URL starting with postgres:// or postgresql://');
  return parts.flatMap(splitHosts);
}

/** `host:port` of a single-host URL, for logs and errors (never the password). */
export function describeServer(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}`;
}
