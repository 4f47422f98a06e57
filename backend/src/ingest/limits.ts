import { BUILT_IN_TYPES } from './schema.js';

/**
 * Per-event limits (issue 23), checked on the event as it arrived, before
 * anything is built from it: one event cannot carry megabytes of strings or
 * thousands of attributes, and nothing a client sends is dropped silently.
 * An event over a limit is rejected alone, with its index and the reason.
 */
export interface PerEventLimits {
  /** Attributes of one event (top level): INGEST_MAX_ATTRIBUTES. */
  maxAttributes: number;
  /** Characters of one attribute key, at any depth: INGEST_MAX_KEY_LENGTH. */
  maxKeyLength: number;
  /** Characters of one string value, at any depth: INGEST_MAX_STRING_LENGTH. */
  maxStringLength: number;
  /** Bytes of the whole event as JSON: INGEST_MAX_EVENT_BYTES. */
  maxEventBytes: number;
}

export const DEFAULT_EVENT_LIMITS: PerEventLimits = { maxAttributes: 100, maxKeyLength: 200, maxStringLength: 8_192, maxEventBytes: 65_536 };

/**
 * Keys that name the prototype of a JavaScript object: an object built from
 * them by assignment loses them (or worse), so they are refused, not stored.
 */
const UNSTORABLE_KEYS: ReadonlySet<string> = new Set(['__proto__']);

function checkTree(value: unknown, path: string, limits: PerEventLimits): string | undefined {
  if (typeof value === 'string') {
    return value.length > limits.maxStringLength ? `${path}: a string of ${value.length} characters; the limit is ${limits.maxStringLength} (INGEST_MAX_STRING_LENGTH)` : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const at = `${path}.${key}`;
    if (UNSTORABLE_KEYS.has(key)) return `${at}: the key '${key}' cannot be stored; rename the attribute`;
    if (key.length > limits.maxKeyLength) return `${path}: a key of ${key.length} characters; the limit is ${limits.maxKeyLength} (INGEST_MAX_KEY_LENGTH)`;
    const found = checkTree((value as Record<string, unknown>)[key], at, limits);
    if (found) return found;
  }
  return undefined;
}

// Built on first use: schema.ts imports this module, so BUILT_IN_TYPES is not ready at load time.
let builtInByLowerCase: Map<string, string> | undefined;

/** Built-in types match exactly: "Order.Created" would be a custom type no built-in metric counts. */
export function caseVariantOfBuiltIn(type: string): string | undefined {
  builtInByLowerCase ??= new Map(BUILT_IN_TYPES.map((builtIn) => [builtIn.toLowerCase(), builtIn]));
  const builtIn = builtInByLowerCase.get(type.toLowerCase());
  return builtIn !== undefined && builtIn !== type ? builtIn : undefined;
}

/** The reason an event as sent is over a limit or cannot be stored as sent; undefined when it is fine. */
export function eventLimitProblem(input: unknown, limits: PerEventLimits): string | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const event = input as Record<string, unknown>;
  // The cheap checks first: a multi-megabyte string is refused by its length, without serializing the event to measure it.
  if (typeof event.type === 'string') {
    const builtIn = caseVariantOfBuiltIn(event.type);
    if (builtIn) return `type: '${event.type}' differs from the built-in type '${builtIn}' only by case; did you mean '${builtIn}'? (types are case-sensitive)`;
  }
  const attributes = event.attributes;
  if (typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes)) {
    const count = Object.keys(attributes).length;
    if (count > limits.maxAttributes) return `attributes: ${count} attributes; the limit is ${limits.maxAttributes} per event (INGEST_MAX_ATTRIBUTES)`;
  }
  const problem = checkTree(attributes, 'attributes', limits);
  if (problem) return problem;
  const bytes = Buffer.byteLength(JSON.stringify(event));
  if (bytes > limits.maxEventBytes) return `event: ${bytes} bytes as JSON; the limit is ${limits.maxEventBytes} bytes per event (INGEST_MAX_EVENT_BYTES)`;
  return undefined;
}
