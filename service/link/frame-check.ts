import { hasValidEnvelopeFields, isNat, isPlainRecord, ownKeyCount } from '../envelope-rules.js';
import type { FrameOf } from './frames.js';

// The link's own limits in frames.ts's schema, shared with the check below.
export const MAX_DELIVER_ENVELOPES = 10_000;
export const MAX_REQUEST_ID = 2 ** 32 - 1;

/**
 * Whether `frameSchema` would accept this decoded `deliver` or `ack` frame unchanged: the same
 * checks as the schema (same patterns and limits), written out for the two frames every
 * delivery carries, with up to 10,000 envelopes each. zod rebuilding them was a sixth of a
 * link's round trip. Anything this does not accept goes to zod, which gives the error (or,
 * should the two ever differ, the value), so the schema stays the contract;
 * test/service/link/frame-check.property.test.ts holds the two together.
 *
 * Each object is checked as a strict object: every required key's value is checked, the
 * optional keys present are counted, and the total must match (envelope-rules.ts, ownKeyCount).
 */
export function isPlainDeliveryFrame(value: unknown): value is FrameOf<'deliver'> | FrameOf<'ack'> {
  if (!isPlainRecord(value)) return false;
  if (value['t'] === 'deliver') return isDeliver(value);
  if (value['t'] === 'ack') return isAck(value);
  return false;
}

function isDeliver(frame: Record<string, unknown>): boolean {
  if (ownKeyCount(frame) !== 3 + countPresent(frame, 'seq', 'prev') || !isRequestId(frame['id'])) return false;
  if (!isOptionalNat(frame['seq']) || !isOptionalNat(frame['prev'])) return false;
  const envelopes = frame['envelopes'];
  if (!Array.isArray(envelopes) || envelopes.length < 1 || envelopes.length > MAX_DELIVER_ENVELOPES) return false;
  for (const e of envelopes) if (!isEnvelope(e)) return false;
  return true;
}

function isEnvelope(e: unknown): boolean {
  if (!isPlainRecord(e) || ownKeyCount(e) !== 6 + countPresent(e, 'ref') || !hasValidEnvelopeFields(e)) return false;
  const ref = e['ref'];
  return e['body'] instanceof Uint8Array && (ref === undefined || typeof ref === 'string');
}

function isAck(frame: Record<string, unknown>): boolean {
  if (ownKeyCount(frame) !== 4 + countPresent(frame, 'retryAfterMs') || !isRequestId(frame['id'])) return false;
  const retryAfterMs = frame['retryAfterMs'];
  if (retryAfterMs !== undefined && !(typeof retryAfterMs === 'number' && Number.isSafeInteger(retryAfterMs))) return false;
  const { stored, rejected } = frame;
  if (!Array.isArray(stored) || !Array.isArray(rejected)) return false;
  for (const id of stored) if (typeof id !== 'string') return false;
  for (const r of rejected) {
    if (!isPlainRecord(r) || ownKeyCount(r) !== 3) return false;
    if (typeof r['id'] !== 'string' || typeof r['code'] !== 'string' || typeof r['reason'] !== 'string') return false;
  }
  return true;
}

function countPresent(value: Record<string, unknown>, ...keys: string[]): number {
  let n = 0;
  for (const key of keys) if (Object.hasOwn(value, key)) n++;
  return n;
}

function isOptionalNat(value: unknown): boolean {
  return value === undefined || isNat(value);
}

function isRequestId(value: unknown): boolean {
  return isNat(value) && value <= MAX_REQUEST_ID;
}
