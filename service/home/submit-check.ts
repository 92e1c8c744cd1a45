import type { z } from 'zod';
import { hasValidEnvelopeFields, isPlainRecord, ownKeyCount } from '../envelope-rules.js';
import { BASE64_PATTERN, MAX_ENVELOPES, type submitRequest } from './contract.js';

export type SubmitRequest = z.infer<typeof submitRequest>;

/**
 * Whether `submitRequest` would accept this value unchanged: the same checks as the schema
 * (same patterns, same limits), written out for the one request that carries thousands of
 * envelopes. A valid request is then used as it is instead of being rebuilt by zod, which was
 * about a tenth of the sending appliance's throughput. Anything this does not accept goes to
 * zod, which produces the error (or, should the two ever differ, the value) — so the schema stays
 * the contract, and test/service/submit-check.property.test.ts holds the two together.
 */
export function isPlainSubmit(value: unknown): value is SubmitRequest {
  if (!isPlainRecord(value) || ownKeyCount(value) !== 1) return false;
  const envelopes = value['envelopes'];
  if (!Array.isArray(envelopes) || envelopes.length < 1 || envelopes.length > MAX_ENVELOPES) return false;
  for (const e of envelopes) if (!isEnvelope(e)) return false;
  return true;
}

/** The same for a submission on the stream, `{"submit": {...}, "tag": ...}` (`streamSubmit`). */
export function isPlainStreamSubmit(value: unknown): value is { submit: SubmitRequest; tag?: string | number } {
  if (!isPlainRecord(value)) return false;
  const tagged = Object.hasOwn(value, 'tag');
  if (ownKeyCount(value) !== (tagged ? 2 : 1)) return false;
  const tag = value['tag'];
  if (tagged && !((typeof tag === 'string' && tag.length <= 200) || (typeof tag === 'number' && Number.isFinite(tag)))) return false;
  return isPlainSubmit(value['submit']);
}

// Six keys, every one checked: id, from, to, type, ts (envelope-rules.ts) and body.
function isEnvelope(e: unknown): boolean {
  if (!isPlainRecord(e) || ownKeyCount(e) !== 6 || !hasValidEnvelopeFields(e)) return false;
  return typeof e['body'] === 'string' && BASE64_PATTERN.test(e['body']);
}
