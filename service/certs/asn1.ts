import * as asn1js from 'asn1js';

export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * asn1js reports most damage through `offset === -1`, but throws on some malformed
 * primitives (a bad GeneralizedTime, for one); callers get undefined for both.
 */
export function fromBer(bytes: Uint8Array): { result: asn1js.AsnType; length: number } | undefined {
  try {
    const parsed = asn1js.fromBER(toArrayBuffer(bytes));
    return parsed.offset === -1 ? undefined : { result: parsed.result, length: parsed.offset };
  } catch {
    return undefined;
  }
}
