import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root (the folder holding `backend/`, `migrations/`), found from
 * this file's location so it is the same whatever the working directory: `npm start`
 * runs in `backend/`, `npx metrics-hub` wherever the user stands.
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A relative path from configuration, resolved against the repository root. */
export function fromRepoRoot(value: string): string {
  return path.resolve(REPO_ROOT, value);
}
