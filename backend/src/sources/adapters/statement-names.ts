import { createHash } from 'node:crypto';

/**
 * The name a statement is prepared under on each pooled connection: the prefix and a hash of its text, so equal
 * texts share one prepared statement. Remembered per text: statements repeat (their values are parameters), and
 * hashing a text of several kilobytes on every answer cost more than building it (bench/README.md, issue 20, step 15).
 */
export function statementName(prefix: string, text: string): string {
  let named = names.get(prefix);
  if (named === undefined) names.set(prefix, (named = new Map()));
  let name = named.get(text);
  if (name === undefined) {
    if (named.size >= MAX_NAMES) named.clear();
    named.set(text, (name = `${prefix}${createHash('sha1').update(text).digest('hex').slice(0, 16)}`));
  }
  return name;
}

/** Names by prefix, then by text. */
const names = new Map<string, Map<string, string>>();
/** A process sees a few hundred statement texts per prefix; odd callers cannot grow this without bound. */
const MAX_NAMES = 1_000;
