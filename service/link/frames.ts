import { Encoder } from 'cbor-x';
import { z } from 'zod';
import { LinkError } from './errors.js';

/**
 * Federation frames, version 1: the one contract both ends of a link use. Each frame is
 * a CBOR map with `t` (type) and, for requests and their answers, `id`. docs/protocol.md
 * describes every field.
 */
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be a byte string');
const address = z.string().regex(/^[^@\s]{1,128}@[a-z0-9.-]{1,253}$/, 'must be user@domain');
const requestId = z.number().int().min(0).max(2 ** 32 - 1);

export const envelopeSchema = z.strictObject({
  id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a ULID'),
  from: address,
  to: z.array(address).min(1).max(1000),
  type: z.enum(['message', 'recall', 'receipt', 'call']),
  ts: z.number().int().nonnegative(),
  body: bytes,
  /** For a recall: the id of the envelope it withdraws. */
  ref: z.string().optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;

export const userRecordSchema = z.strictObject({
  user: address,
  found: z.boolean(),
  displayName: z.string().max(256).optional(),
  keyBundle: bytes.optional(),
  updated: z.number().int().optional(),
});
export type UserRecord = z.infer<typeof userRecordSchema>;

const rejection = z.strictObject({ id: z.string(), code: z.string(), reason: z.string() });

export const frameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('lookup'), id: requestId, users: z.array(address).min(1).max(1000) }),
  z.strictObject({ t: z.literal('lookup.ok'), id: requestId, results: z.array(userRecordSchema) }),
  z.strictObject({ t: z.literal('deliver'), id: requestId, envelopes: z.array(envelopeSchema).min(1).max(10_000) }),
  z.strictObject({ t: z.literal('ack'), id: requestId, stored: z.array(z.string()), rejected: z.array(rejection), retryAfterMs: z.number().int().optional() }),
  z.strictObject({ t: z.literal('call.join'), id: requestId, callId: z.string().max(128), user: address }),
  z.strictObject({
    t: z.literal('call.join.ok'),
    id: requestId,
    urls: z.array(z.string()),
    username: z.string(),
    credential: z.string(),
    ttl: z.number().int(),
  }),
  z.strictObject({ t: z.literal('key.rotate'), id: requestId, newKey: z.string(), notBefore: z.number().int(), graceUntil: z.number().int(), sig: z.string() }),
  z.strictObject({ t: z.literal('key.rotate.ok'), id: requestId }),
  z.strictObject({ t: z.literal('ping'), id: requestId, ts: z.number() }),
  z.strictObject({ t: z.literal('pong'), id: requestId, ts: z.number() }),
  z.strictObject({ t: z.literal('goaway'), code: z.string(), reason: z.string() }),
  z.strictObject({ t: z.literal('error'), id: requestId.optional(), code: z.string(), message: z.string() }),
]);
export type Frame = z.infer<typeof frameSchema>;
export type FrameType = Frame['t'];
export type FrameOf<T extends FrameType> = Extract<Frame, { t: T }>;

/** Requests and the answer type each expects. */
export const responseType = {
  lookup: 'lookup.ok',
  deliver: 'ack',
  'call.join': 'call.join.ok',
  'key.rotate': 'key.rotate.ok',
  ping: 'pong',
} as const;
export type RequestType = keyof typeof responseType;

// Plain CBOR maps and byte strings only (no cbor-x records or typed-array tags), so
// another implementation needs nothing beyond RFC 8949.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true });

export function encodeFrame(frame: Frame): Uint8Array {
  return encoder.encode(frame);
}

export function decodeFrame(data: Uint8Array): Frame {
  let decoded: unknown;
  try {
    decoded = encoder.decode(data);
  } catch (error) {
    throw new LinkError('frame_malformed', `frame is not valid CBOR: ${(error as Error).message}`);
  }
  const result = frameSchema.safeParse(decoded);
  if (!result.success) {
    const issue = result.error.issues[0];
    const t = (decoded as { t?: unknown } | null)?.t;
    if (issue?.code === 'invalid_union' && typeof t === 'string') throw new LinkError('unknown_frame', `unknown frame type "${t.slice(0, 40)}"`);
    throw new LinkError('frame_malformed', `frame ${typeof t === 'string' ? t.slice(0, 40) : '?'}: ${issue?.path.join('.') || 'frame'}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/** Noise transport messages are at most 65535 bytes including the 16-byte tag. */
export const maxNoisePlaintext = 65535 - 16;
const whole = 0;
const more = 1;
const last = 2;

/**
 * Splits an encoded frame into Noise plaintexts. The first byte of each says whether
 * the frame is whole (0), continues (1) or ends (2) in this message.
 */
export function chunkFrame(data: Uint8Array, maxPlaintext = maxNoisePlaintext): Uint8Array[] {
  const room = maxPlaintext - 1;
  if (data.length <= room) return [prefix(whole, data)];
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += room) {
    const end = Math.min(offset + room, data.length);
    chunks.push(prefix(end === data.length ? last : more, data.subarray(offset, end)));
  }
  return chunks;
}

function prefix(kind: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = kind;
  out.set(data, 1);
  return out;
}

/** Reassembles chunked frames and enforces the largest frame a peer may send. */
export class FrameAssembler {
  #parts: Uint8Array[] = [];
  #size = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Returns the complete frame bytes, or undefined while more chunks are expected. */
  push(plaintext: Uint8Array): Uint8Array | undefined {
    if (plaintext.length === 0) throw new LinkError('frame_malformed', 'empty link message');
    const kind = plaintext[0];
    const data = plaintext.subarray(1);
    if (kind === whole) {
      if (this.#parts.length > 0) throw new LinkError('frame_malformed', 'a whole frame arrived in the middle of a chunked one');
      if (data.length > this.maxFrameBytes) throw new LinkError('too_large', `frame of ${data.length} bytes exceeds ${this.maxFrameBytes}`);
      return data;
    }
    if (kind !== more && kind !== last) throw new LinkError('frame_malformed', `unknown chunk marker ${kind}`);
    this.#size += data.length;
    if (this.#size > this.maxFrameBytes) throw new LinkError('too_large', `chunked frame exceeds ${this.maxFrameBytes} bytes`);
    this.#parts.push(data);
    if (kind === more) return undefined;
    const out = Buffer.concat(this.#parts);
    this.#parts = [];
    this.#size = 0;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}
