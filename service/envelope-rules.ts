/**
 * What an envelope is, wherever one is checked: the home API's schema (home/contract.ts), the
 * link's frame schema (link/frames.ts), and the fast paths that must accept exactly what those
 * schemas accept (home/submit-check.ts, link/frame-check.ts).
 */
export const ADDRESS_PATTERN = /^[^@\s]{1,128}@[a-z0-9.-]{1,253}$/;
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const ENVELOPE_TYPES = ['message', 'recall', 'receipt', 'call'] as const;
export const MAX_RECIPIENTS = 1000;

const TYPES: ReadonlySet<unknown> = new Set(ENVELOPE_TYPES);

/** A plain object as JSON.parse and cbor-x make them: not null, not an array, no other prototype. */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Own enumerable keys, counted without building a list. A fast path that checks the value of
 * every required key (absent reads as undefined, which no check passes) and counts the optional
 * keys present knows, when this matches, that no key is missing and none is unknown: a strict object.
 */
export function ownKeyCount(value: Record<string, unknown>): number {
  let n = 0;
  for (const key in value) if (Object.hasOwn(value, key)) n++;
  return n;
}

/** A safe integer ≥ 0, as zod's `.int().nonnegative()` accepts. */
export function isNat(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The fields both forms of an envelope share, checked as both schemas check them: id, from, to, type, ts. */
export function hasValidEnvelopeFields(e: Record<string, unknown>): boolean {
  const { id, from, to, type, ts } = e;
  if (typeof id !== 'string' || !ULID_PATTERN.test(id)) return false;
  if (typeof from !== 'string' || !ADDRESS_PATTERN.test(from)) return false;
  if (!Array.isArray(to) || to.length < 1 || to.length > MAX_RECIPIENTS) return false;
  for (const r of to) if (typeof r !== 'string' || !ADDRESS_PATTERN.test(r)) return false;
  return TYPES.has(type) && isNat(ts);
}
