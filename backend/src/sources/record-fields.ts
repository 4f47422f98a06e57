/** Reads `Owner.Name` from a nested record (Salesforce relationships, HubSpot properties). */
export function readField(record: unknown, path: string): unknown {
  let current: unknown = record;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
