import { z } from 'zod';
import { SourceError } from './errors.js';

/**
 * An external API or SaaS account belongs to one company. `organizations` on a
 * source names the Metrics Hub organizations (ids) allowed to read it; any
 * other organization's query is refused before a request leaves the process.
 */
export const organizationsSchema = z.array(z.uuid({ error: 'must be an organization id (uuid)' })).min(1).optional();

export function assertOrganizationAllowed(sourceId: string, allowed: string[] | undefined, organizationId: string): void {
  if (allowed && !allowed.includes(organizationId)) {
    throw new SourceError(sourceId, 'bad_query', `source '${sourceId}' is not shared with this organization`);
  }
}
