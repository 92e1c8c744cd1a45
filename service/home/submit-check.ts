import type { z } from 'zod';
import { ADDRESS_PATTERN, BASE64_PATTERN, ENVELOPE_TYPES, MAX_ENVELOPES, MAX_RECIPIENTS, ULID_PATTERN, type submitRequest } from './contract.js';

export type SubmitRequest = z.infer<typeof submitRequest>;

const ENVELOPE_KEYS = ['id', 'from', 'to', 'type', 'ts', 'body'] as const;
const TYPES: ReadonlySet<unknown> = new Set(ENVELOPE_TYPES);

/**
 * Whether `submitRequest` would accept this value unchanged: the same checks as the schema
 * (same patterns, same limits), written out for the one request that carries thousands of
 * envelopes. A valid request is then used as it is instead of being rebuilt by zod, which was
 * about a tenth of the sending appliance's throughput. Anything this does not accept goes to
 * zod, which produces the error (or, should the two ever differ, the value) — so the schema stays
 * the contract, and test/service/submit-check.property.test.ts holds the two together.
 */
export function isPlainSubmit(value: unknown): value is SubmitRequest {
  if (!isRecord(value) || !hasExactly(value, ['envelopes'])) return false;
  const envelopes = value['envelopes'];
  if (!Array.isArray(envelopes) || envelopes.length < 1 || envelopes.length > MAX_ENVELOPES) return false;
  for (const e of envelopes) if (!isEnvelope(e)) return false;
  return true;
}

/** The same for a submission on the stream, `{"submit": {...}, "tag": ...}` (`streamSubmit`). */
export function isPlainStreamSubmit(value: unknown): value is { submit: SubmitRequest; tag?: string | number } {
  if (!isRecord(value)) return false;
  const tagged = Object.hasOwn(value, 'tag');
  if (!hasExactly(value, tagged ? ['submit', 'tag'] : ['submit'])) return false;
  const tag = value['tag'];
  if (tagged && !((typeof tag === 'string' && tag.length <= 200) || (typeof tag === 'number' && Number.isFinite(tag)))) return false;
  return isPlainSubmit(value['submit']);
}

function isEnvelope(e: unknown): boolean {
  if (!isRecord(e) || !hasExactly(e, ENVELOPE_KEYS)) return false;
  const { id, from, to, type, ts, body } = e;
  if (typeof id !== 'string' || !ULID_PATTERN.test(id)) return false;
  if (typeof from !== 'string' || !ADDRESS_PATTERN.test(from)) return false;
  if (!Array.isArray(to) || to.length < 1 || to.length > MAX_RECIPIENTS) return false;
  for (const r of to) if (typeof r !== 'string' || !ADDRESS_PATTERN.test(r)) return false;
  if (!TYPES.has(type)) return false;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) return false;
  return typeof body === 'string' && BASE64_PATTERN.test(body);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Own enumerable keys are exactly these (a strict object: no unknown key, none missing). */
function hasExactly(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  if (own.length !== keys.length) return false;
  for (const k of keys) if (!Object.hasOwn(value, k)) return false;
  return true;
}
