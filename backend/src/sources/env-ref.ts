import { z } from 'zod';

/**
 * Secrets never live in the catalog: a setting written `env:NAME` is read from
 * the environment when the source starts, so the same catalog file serves every
 * deployment and can be committed.
 */
const ENV_PREFIX = 'env:';

export const envReferenceSchema = z
  .string()
  .regex(/^env:[A-Za-z_][A-Za-z0-9_]*$/, 'must be env:NAME, naming an environment variable (secrets are never written in the catalog)');

/** A setting that is either a literal or an `env:NAME` reference. */
export const literalOrEnvSchema = z.string().min(1);

export class MissingEnvError extends Error {}

/** Resolves `env:NAME` (throwing when the variable is unset) and returns literals as they are. */
export function resolveEnv(value: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!value.startsWith(ENV_PREFIX)) return value;
  const name = value.slice(ENV_PREFIX.length);
  const resolved = env[name];
  if (resolved === undefined || resolved === '') throw new MissingEnvError(`environment variable ${name} is not set`);
  return resolved;
}
