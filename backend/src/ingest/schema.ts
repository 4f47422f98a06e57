import { z } from 'zod';
import { ROLLUP_DIMENSIONS } from '../rollups/dimensions.js';
import { distinctValuesOf, type DistinctAttributes } from './distinct-attributes.js';
import { CONVERSATION_DURATION_TYPES, CONVERSATION_EVENT_TYPES, conversationAttributeRules, conversationFastRules, derivedStatus, VALUE_REQUIRED_TYPES } from './schema-conversations.js';
import { caseVariantOfBuiltIn, DEFAULT_EVENT_LIMITS, eventLimitProblem, type PerEventLimits } from './limits.js';
import { fastOneOf, fastOptional, fastShape, fastString, fastTrimmedId, isoTimeMs, jsonBytesBound, MAX_ATTRIBUTE_DEPTH, UNSTORABLE, walkAttributes } from './schema-fast.js';

/**
 * The event contract of `POST /api/v1/events`, one schema per event so a bad
 * event is rejected alone, with a message naming the field and the reason.
 */

/** Event types with a meaning in the built-in catalog; any other type is custom. */
export const BUILT_IN_TYPES = [
  'order.created',
  'payment.succeeded',
  'payment.failed',
  'workflow.finished',
  'message.sent',
  'message.delivered',
  'message.read',
  'message.received',
  'call.finished',
  'conversation.status_changed',
  'bot.response',
  ...CONVERSATION_EVENT_TYPES,
] as const;
export type BuiltInType = (typeof BUILT_IN_TYPES)[number];

const builtInTypes: ReadonlySet<string> = new Set(BUILT_IN_TYPES);
export function isBuiltInType(type: string): type is BuiltInType {
  return builtInTypes.has(type);
}

const MAX_DIMENSION_LENGTH = 200;
const MAX_VALUE = 1e12;
const MAX_ID_LENGTH = 200;
const MAX_TYPE_LENGTH = 100;
const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/i;
const WORKFLOW_STATUSES = ['SUCCESS', 'FAILED', 'FAILED_SAFETY_LIMIT'] as const;
const CALL_DIRECTIONS = ['inbound', 'outbound'] as const;
const CALL_STATUSES = ['answered', 'missed'] as const;

const oneOf = (values: readonly [string, ...string[]]) => z.enum(values, { error: `must be one of ${values.join(', ')}` });
const requiredString = z.string({ error: 'required: a non-empty string' }).trim().min(1, 'required: a non-empty string');
const messageAttributes = z.looseObject({ messageId: requiredString.max(200, 'must be at most 200 characters') });

/**
 * Attributes the built-in metrics depend on. A missing or misspelt status would
 * silently drop an event from a failure rate, so it is rejected instead.
 */
const attributeRules: Partial<Record<BuiltInType, z.ZodType>> = {
  // workflowId and error are what the recent-failures list shows (format list on workflows_failed).
  'workflow.finished': z.looseObject({
    status: oneOf(WORKFLOW_STATUSES),
    workflowId: z.string({ error: 'must be a string (the workflow\'s id)' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional(),
    error: z.string({ error: 'must be a string (the failure message)' }).optional(),
  }),
  'message.sent': messageAttributes,
  'message.delivered': messageAttributes,
  'message.read': messageAttributes,
  'message.received': messageAttributes,
  'call.finished': z.looseObject({ direction: oneOf(CALL_DIRECTIONS), status: oneOf(CALL_STATUSES) }),
  ...conversationAttributeRules,
};

/** The same rules as plain checks, for parseEvent's fast path (schema-fast.ts); the zod rules above word the errors. */
const fastMessage = fastShape({ messageId: fastTrimmedId(200) });
const fastAttributeRules: Partial<Record<BuiltInType, (attributes: Record<string, unknown>) => boolean>> = {
  'workflow.finished': fastShape({ status: fastOneOf(WORKFLOW_STATUSES), workflowId: fastOptional(fastString(1, 200)), error: fastOptional(fastString()) }),
  'message.sent': fastMessage,
  'message.delivered': fastMessage,
  'message.read': fastMessage,
  'message.received': fastMessage,
  'call.finished': fastShape({ direction: fastOneOf(CALL_DIRECTIONS), status: fastOneOf(CALL_STATUSES) }),
  ...conversationFastRules,
};

/** Types whose value is a duration or a response time, which cannot be negative. */
const nonNegativeValue: ReadonlySet<string> = new Set<BuiltInType>(['workflow.finished', 'call.finished', 'bot.response', ...CONVERSATION_DURATION_TYPES]);

const occurredAtSchema = z.iso.datetime({
  offset: true,
  // A missing time is told as missing, not as a malformed one.
  error: (issue) => `${issue.input === undefined ? 'required: an' : 'not an'} ISO-8601 time with a time zone (e.g. "2026-02-01T10:15:00Z")`,
});
/** zod's own pattern for occurredAt, so the fast path accepts exactly the times the schema does. */
const OCCURRED_AT_PATTERN: RegExp = (() => {
  const pattern = occurredAtSchema._zod.def.pattern;
  if (!(pattern instanceof RegExp)) throw new Error('zod no longer exposes the pattern of z.iso.datetime(); update the fast path of parseEvent');
  return pattern;
})();

const eventSchema = z.object(
  {
    id: requiredString.max(MAX_ID_LENGTH, 'must be at most 200 characters'),
    type: z
      .string({ error: 'required: a string such as "order.created"' })
      .max(MAX_TYPE_LENGTH, 'must be at most 100 characters')
      .regex(TYPE_PATTERN, 'must be dot-separated words of letters, digits and _ (e.g. "order.created")'),
    occurredAt: occurredAtSchema,
    // Bounded so that sums over years of rollups stay finite and precise.
    value: z
      .number({ error: 'must be a finite number' })
      .min(-MAX_VALUE, `must be between -${MAX_VALUE} and ${MAX_VALUE}`)
      .max(MAX_VALUE, `must be between -${MAX_VALUE} and ${MAX_VALUE}`)
      .nullish(),
    attributes: z.record(z.string(), z.unknown(), { error: 'must be an object' }).default({}),
  },
  { error: 'must be an object with id, type and occurredAt' },
);

export interface ValidEvent {
  id: string;
  type: string;
  occurredAtMs: number;
  value: number | null;
  attributes: Record<string, unknown>;
  /** Declared dimensions present on the event, values as strings, in ROLLUP_DIMENSIONS order. */
  dims: Record<string, string>;
  /** Only for message.delivered / message.read: the id a message counts once by. */
  messageId?: string;
  /** Values of the attributes catalog metrics count distinct values of (DistinctAttributes). */
  distinct: Record<string, string>;
}

export interface EventLimits {
  /** Epoch ms of "now" for the time window checks. */
  now: number;
  maxFutureSkewSeconds: number;
  retentionDays: number;
  /** Attributes sketched per event type; none when absent. */
  distinct?: DistinctAttributes;
  /** Attribute count, key and string lengths, event size (ingest/limits.ts). */
  perEvent?: PerEventLimits;
}

export type ParsedEvent = { ok: true; event: ValidEvent } | { ok: false; error: string };

function describe(error: z.ZodError, prefix: string[] = []): string {
  return error.issues
    .map((issue) => {
      const path = [...prefix, ...issue.path.map(String)].join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/**
 * Rollup dimensions of an event. bot.response gets a derived `status`
 * ("success" / "error" from attributes.success) so bot errors are a dimension
 * filter like workflow and call statuses; it replaces any status sent.
 */
export function dimensionsOf(type: string, attributes: Record<string, unknown>): { dims: Record<string, string> } | { error: string } {
  const dims: Record<string, string> = {};
  for (const name of ROLLUP_DIMENSIONS) {
    if (type === 'bot.response' && name === 'status') {
      dims.status = attributes.success === true ? 'success' : 'error';
      continue;
    }
    const derived = name === 'status' ? derivedStatus(type) : undefined;
    if (derived !== undefined) {
      dims.status = derived;
      continue;
    }
    const raw = attributes[name];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      return { error: `attributes.${name}: must be a string, number or boolean (it is a rollup dimension)` };
    }
    const value = String(raw);
    if (value.length > MAX_DIMENSION_LENGTH) return { error: `attributes.${name}: must be at most ${MAX_DIMENSION_LENGTH} characters (it is a rollup dimension)` };
    dims[name] = value;
  }
  return { dims };
}

/**
 * PostgreSQL cannot store the NUL character in text or jsonb, nor a lone UTF-16
 * surrogate in jsonb; one such string would fail the whole batch's insert, so
 * the event carrying it is rejected alone. Returns the path of the first one.
 */
function unstorableString(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = unstorableString(key, `${path}.${key}`) ?? unstorableString(item, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

function tooDeep(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= MAX_ATTRIBUTE_DEPTH) return true;
  return Object.values(value).some((item) => tooDeep(item, depth + 1));
}

/**
 * Checks one event as sent and builds what is stored and counted from it. A well-formed event takes the fast path
 * (fastParseEvent); any other goes through the zod schema, which accepts or words the error exactly as before.
 */
export function parseEvent(input: unknown, limits: EventLimits): ParsedEvent {
  const event = fastParseEvent(input, limits);
  return event ? { ok: true, event } : parseEventBySchema(input, limits);
}

/** Custom and built-in types that passed the type checks (pattern, length, no case variant of a built-in type). */
const validTypes = new Set<string>(BUILT_IN_TYPES);
const MAX_REMEMBERED_TYPES = 10_000;

function isValidType(type: string): boolean {
  if (validTypes.has(type)) return true;
  if (type.length > MAX_TYPE_LENGTH || !TYPE_PATTERN.test(type) || caseVariantOfBuiltIn(type) !== undefined) return false;
  if (validTypes.size < MAX_REMEMBERED_TYPES) validTypes.add(type);
  return true;
}

/**
 * The event that parseEventBySchema would build, when every check passes by plain code; undefined when any does not
 * or the input is not plain JSON (its caller then runs the schema, which words the error or accepts it). It checks
 * what parseEventBySchema checks, in one walk of the attributes and with an upper bound of the event's JSON size in
 * place of serializing it (the exact size only when the bound is over the limit).
 */
export function fastParseEvent(input: unknown, limits: EventLimits): ValidEvent | undefined {
  if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return undefined;
  const sent = input as Record<string, unknown>;
  const { id: rawId, type, occurredAt, value, attributes: rawAttributes } = sent;
  if (typeof rawId !== 'string' || typeof type !== 'string' || typeof occurredAt !== 'string') return undefined;
  const id = rawId.trim();
  if (id.length === 0 || id.length > MAX_ID_LENGTH || UNSTORABLE.test(id) || !isValidType(type) || !OCCURRED_AT_PATTERN.test(occurredAt)) return undefined;
  if (value !== undefined && value !== null && !(typeof value === 'number' && value >= -MAX_VALUE && value <= MAX_VALUE)) return undefined;
  const perEvent = limits.perEvent ?? DEFAULT_EVENT_LIMITS;

  // The attributes as the schema's record() copies them: own keys, in order.
  const attributes: Record<string, unknown> = {};
  let attributeBytes = 2;
  if (rawAttributes !== undefined) {
    if (typeof rawAttributes !== 'object' || rawAttributes === null || Object.getPrototypeOf(rawAttributes) !== Object.prototype) return undefined;
    const walked = walkAttributes(rawAttributes, perEvent);
    if (walked < 0) return undefined;
    attributeBytes = walked;
    let count = 0;
    for (const key in rawAttributes) {
      attributes[key] = (rawAttributes as Record<string, unknown>)[key];
      count += 1;
    }
    if (count > perEvent.maxAttributes) return undefined;
  }
  let bytes = 2;
  for (const key in sent) {
    const item = key === 'attributes' ? attributeBytes : jsonBytesBound(sent[key]);
    if (item < 0) return undefined;
    bytes += 4 + 6 * key.length + item;
  }
  if (bytes > perEvent.maxEventBytes && Buffer.byteLength(JSON.stringify(sent)) > perEvent.maxEventBytes) return undefined;

  const rule = fastAttributeRules[type as BuiltInType];
  if (rule && !rule(attributes)) return undefined;
  if (value != null && value < 0 && nonNegativeValue.has(type)) return undefined;
  if (value == null && VALUE_REQUIRED_TYPES.has(type)) return undefined;
  const occurredAtMs = isoTimeMs(occurredAt);
  if (occurredAtMs > limits.now + limits.maxFutureSkewSeconds * 1000 || occurredAtMs < limits.now - limits.retentionDays * 86_400_000) return undefined;

  const dimensions = dimensionsOf(type, attributes);
  if ('error' in dimensions) return undefined;
  const distinct = distinctValuesOf(attributes, limits.distinct?.get(type) ?? []);
  if ('error' in distinct) return undefined;
  const event: ValidEvent = { id, type, occurredAtMs, value: (value as number | null | undefined) ?? null, attributes, dims: dimensions.dims, distinct: distinct.values };
  if (type === 'message.delivered' || type === 'message.read') event.messageId = String(attributes.messageId).trim();
  return event;
}

/** parseEvent by the zod schema alone: every event, valid or not, and the wording of every error. */
export function parseEventBySchema(input: unknown, limits: EventLimits): ParsedEvent {
  const overLimit = eventLimitProblem(input, limits.perEvent ?? DEFAULT_EVENT_LIMITS);
  if (overLimit) return { ok: false, error: overLimit };
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: describe(parsed.error) };
  const { id, type, occurredAt, value, attributes } = parsed.data;
  if (tooDeep(attributes)) return { ok: false, error: `attributes: nested deeper than ${MAX_ATTRIBUTE_DEPTH} levels` };
  const unstorable = unstorableString(id, 'id') ?? unstorableString(attributes, 'attributes');
  if (unstorable) return { ok: false, error: `${unstorable}: contains a NUL character or an unpaired surrogate, which cannot be stored` };

  const rule = isBuiltInType(type) ? attributeRules[type] : undefined;
  if (rule) {
    const checked = rule.safeParse(attributes);
    if (!checked.success) return { ok: false, error: `${describe(checked.error, ['attributes'])} (required for ${type})` };
  }
  if (value != null && value < 0 && nonNegativeValue.has(type)) return { ok: false, error: `value: must be >= 0 for ${type} (a duration)` };
  if (value == null && VALUE_REQUIRED_TYPES.has(type)) return { ok: false, error: `value: required for ${type} (the duration it measures, in seconds)` };

  const occurredAtMs = Date.parse(occurredAt);
  if (occurredAtMs > limits.now + limits.maxFutureSkewSeconds * 1000) {
    return { ok: false, error: `occurredAt: more than ${limits.maxFutureSkewSeconds} s in the future` };
  }
  if (occurredAtMs < limits.now - limits.retentionDays * 86_400_000) {
    return { ok: false, error: `occurredAt: older than the retention of ${limits.retentionDays} days` };
  }

  const dimensions = dimensionsOf(type, attributes);
  if ('error' in dimensions) return { ok: false, error: dimensions.error };
  const distinct = distinctValuesOf(attributes, limits.distinct?.get(type) ?? []);
  if ('error' in distinct) return { ok: false, error: distinct.error };
  const event: ValidEvent = { id, type, occurredAtMs, value: value ?? null, attributes, dims: dimensions.dims, distinct: distinct.values };
  if (type === 'message.delivered' || type === 'message.read') event.messageId = String(attributes.messageId).trim();
  return { ok: true, event };
}
