import type { FrameOf } from './frames.js';

// The patterns and limits of frames.ts's schema, shared with the check below.
export const ADDRESS_PATTERN = /^[^@\s]{1,128}@[a-z0-9.-]{1,253}$/;
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const ENVELOPE_TYPES = ['message', 'recall', 'receipt', 'call'] as const;
export const MAX_RECIPIENTS = 1000;
export const MAX_DELIVER_ENVELOPES = 10_000;
export const MAX_REQUEST_ID = 2 ** 32 - 1;

const TYPES: ReadonlySet<unknown> = new Set(ENVELOPE_TYPES);

/**
 * Whether `frameSchema` would accept this decoded `deliver` or `ack` frame unchanged: the same
 * checks as the schema (same patterns and limits), written out for the two frames every
 * delivery carries, with up to 10,000 envelopes each. zod rebuilding them was a sixth of a
 * link's round trip. Anything this does not accept goes to zod, which gives the error (or,
 * should the two ever differ, the value), so the schema stays the contract;
 * test/service/link/frame-check.property.test.ts holds the two together.
 */
export function isPlainDeliveryFrame(value: unknown): value is FrameOf<'deliver'> | FrameOf<'ack'> {
  if (!isRecord(value)) return false;
  if (value['t'] === 'deliver') return isDeliver(value);
  if (value['t'] === 'ack') return isAck(value);
  return false;
}

function isDeliver(frame: Record<string, unknown>): boolean {
  const optional = countPresent(frame, 'seq', 'prev');
  if (!hasKeys(frame, 3 + optional) || !isRequestId(frame['id'])) return false;
  if (!isOptionalNat(frame['seq']) || !isOptionalNat(frame['prev'])) return false;
  const envelopes = frame['envelopes'];
  if (!Array.isArray(envelopes) || envelopes.length < 1 || envelopes.length > MAX_DELIVER_ENVELOPES) return false;
  for (const e of envelopes) if (!isEnvelope(e)) return false;
  return true;
}

function isEnvelope(e: unknown): boolean {
  if (!isRecord(e) || !hasKeys(e, 6 + countPresent(e, 'ref'))) return false;
  const { id, from, to, type, ts, body, ref } = e;
  if (typeof id !== 'string' || !ULID_PATTERN.test(id)) return false;
  if (typeof from !== 'string' || !ADDRESS_PATTERN.test(from)) return false;
  if (!Array.isArray(to) || to.length < 1 || to.length > MAX_RECIPIENTS) return false;
  for (const r of to) if (typeof r !== 'string' || !ADDRESS_PATTERN.test(r)) return false;
  if (!TYPES.has(type) || !isNat(ts) || !(body instanceof Uint8Array)) return false;
  return ref === undefined || typeof ref === 'string';
}

function isAck(frame: Record<string, unknown>): boolean {
  if (!hasKeys(frame, 4 + countPresent(frame, 'retryAfterMs')) || !isRequestId(frame['id'])) return false;
  const retryAfterMs = frame['retryAfterMs'];
  if (retryAfterMs !== undefined && !(typeof retryAfterMs === 'number' && Number.isSafeInteger(retryAfterMs))) return false;
  const { stored, rejected } = frame;
  if (!Array.isArray(stored) || !Array.isArray(rejected)) return false;
  for (const id of stored) if (typeof id !== 'string') return false;
  for (const r of rejected) {
    if (!isRecord(r) || !hasKeys(r, 3)) return false;
    if (typeof r['id'] !== 'string' || typeof r['code'] !== 'string' || typeof r['reason'] !== 'string') return false;
  }
  return true;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * A strict object: exactly `count` own keys. Callers count the optional keys that are present
 * and read every required key, so with the count right no key is missing and none is unknown.
 */
function hasKeys(value: Record<string, unknown>, count: number): boolean {
  let n = 0;
  for (const key in value) if (Object.hasOwn(value, key)) n++;
  return n === count;
}

function countPresent(value: Record<string, unknown>, ...keys: string[]): number {
  let n = 0;
  for (const key of keys) if (Object.hasOwn(value, key)) n++;
  return n;
}

function isNat(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isOptionalNat(value: unknown): boolean {
  return value === undefined || isNat(value);
}

function isRequestId(value: unknown): boolean {
  return isNat(value) && (value as number) <= MAX_REQUEST_ID;
}
