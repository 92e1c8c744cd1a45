import { Encoder } from 'cbor-x';

// int64AsNumber exists in cbor-x's decoder but not in its type definitions.
type EncoderOptions = ConstructorParameters<typeof Encoder>[0];
import { z } from 'zod';
import { LinkError } from './errors.js';
import { ADDRESS_PATTERN, ENVELOPE_TYPES, MAX_RECIPIENTS, ULID_PATTERN } from '../envelope-rules.js';
import { MAX_DELIVER_ENVELOPES, MAX_REQUEST_ID, isPlainDeliveryFrame } from './frame-check.js';

/**
 * Federation frames, version 1: the one contract both ends of a link use. Each frame is
 * a CBOR map with `t` (type) and, for requests and their answers, `id`. docs/protocol.md
 * describes every field.
 */
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be a byte string');
const address = z.string().regex(ADDRESS_PATTERN, 'must be user@domain');
const requestId = z.number().int().min(0).max(MAX_REQUEST_ID);

export const envelopeSchema = z.strictObject({
  id: z.string().regex(ULID_PATTERN, 'must be a ULID'),
  from: address,
  to: z.array(address).min(1).max(MAX_RECIPIENTS),
  type: z.enum(ENVELOPE_TYPES),
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
  // seq/prev chain the batches a sender has in flight at once (protocol.md §7): a batch whose prev
  // the receiver did not take whole is refused as out_of_order.
  z.strictObject({
    t: z.literal('deliver'),
    id: requestId,
    envelopes: z.array(envelopeSchema).min(1).max(MAX_DELIVER_ENVELOPES),
    seq: z.number().int().nonnegative().optional(),
    prev: z.number().int().nonnegative().optional(),
  }),
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
  z.strictObject({
    t: z.literal('key.rotate'),
    id: requestId,
    newKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url Ed25519 key'),
    notBefore: z.number().int(),
    graceUntil: z.number().int(),
    sig: z.string(),
  }),
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
// int64AsNumber: another implementation may write a timestamp as a 64-bit integer (0x1b).
const encoderOptions = { useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true, int64AsNumber: true } as EncoderOptions;
const encoder = new Encoder(encoderOptions);

export function encodeFrame(frame: Frame): Uint8Array {
  return encoder.encode(frame);
}

// cbor-x's RESET_BUFFER_MODE (encode.js; not re-exported by its node entry): after this encode the
// write position goes back to where it started, so the next call writes over the same bytes
// instead of allocating a new buffer whenever the old one fills (a 1 MB deliver frame did).
// An encoder that ignored the flag would still give the same bytes, only allocate more.
const RESET_BUFFER_MODE = 1024;
const transientEncoder = new Encoder(encoderOptions);

/**
 * The bytes of encodeFrame in cbor-x's buffer, which every cbor-x encoder in the process shares
 * and the next encode (of any encoder) may overwrite: copy them before anything else encodes.
 */
export function encodeFrameTransient(frame: Frame): Uint8Array {
  return (transientEncoder.encode as (value: unknown, mode: number) => Uint8Array)(frame, RESET_BUFFER_MODE);
}

export function decodeFrame(data: Uint8Array): Frame {
  let decoded: unknown;
  try {
    decoded = encoder.decode(data);
  } catch (error) {
    throw new LinkError('frame_malformed', `frame is not valid CBOR: ${(error as Error).message}`);
  }
  // The two frames of every delivery, when well-formed, are used as decoded (frame-check.ts).
  if (isPlainDeliveryFrame(decoded)) return decoded;
  const result = frameSchema.safeParse(decoded);
  if (!result.success) {
    const issue = result.error.issues[0];
    const t = (decoded as { t?: unknown } | null)?.t;
    if (issue?.code === 'invalid_union' && typeof t === 'string') throw new LinkError('unknown_frame', `unknown frame type "${t.slice(0, 40)}"`);
    throw new LinkError(
      'frame_malformed',
      `frame ${typeof t === 'string' ? t.slice(0, 40) : '?'}: ${issue?.path.join('.') || 'frame'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

/** Noise transport messages are at most 65535 bytes including the 16-byte tag. */
export const maxNoisePlaintext = 65535 - 16;
const whole = 0;
const more = 1;
const last = 2;
const recordHeader = 3;

/**
 * Packs encoded frames into Noise plaintexts. A plaintext is a sequence of records, each
 * a marker byte (0 whole frame, 1 first or middle chunk, 2 last chunk), a 16-bit
 * big-endian length and that many bytes. Frames written in the same turn of the event
 * loop share one Noise message: with many requests in flight, encryption and WebSocket
 * costs are paid per message, not per frame. A frame too large for one message is chunked.
 * Records are copied into one buffer, reused for every message (it grows up to the largest
 * plaintext): the only allocation per message is the ciphertext.
 */
export class FrameWriter {
  /** Grows (doubling) up to maxPlaintext as the frames need it, then stays. */
  #buffer = new Uint8Array(0);
  #size = 0;

  constructor(private readonly maxPlaintext = maxNoisePlaintext) {}

  get pending(): boolean {
    return this.#size > 0;
  }

  /**
   * Adds a frame, copied before this returns (the caller may reuse `data` afterwards). `emit`
   * gets each plaintext completed because of it, in order; a plaintext is valid only until `emit`
   * returns. `emit` may run before all of `data` is copied, so it must not change `data` (nor
   * encode CBOR, when `data` is encodeFrameTransient's).
   */
  add(data: Uint8Array, emit: (plaintext: Uint8Array) => void): void {
    if (this.#size + recordHeader + data.length > this.maxPlaintext) this.flush(emit);
    const room = this.maxPlaintext - recordHeader;
    if (data.length <= room) {
      this.#record(whole, data);
      return;
    }
    for (let offset = 0; offset < data.length; offset += room) {
      const end = Math.min(offset + room, data.length);
      this.#record(end === data.length ? last : more, data.subarray(offset, end));
      this.flush(emit);
    }
  }

  /** Emits the pending records as one plaintext (valid until `emit` returns), if there are any. */
  flush(emit: (plaintext: Uint8Array) => void): void {
    if (this.#size === 0) return;
    const plaintext = this.#buffer.subarray(0, this.#size);
    this.#size = 0;
    emit(plaintext);
  }

  #record(kind: number, data: Uint8Array): void {
    const at = this.#size;
    const end = at + recordHeader + data.length;
    if (end > this.#buffer.length) {
      const grown = new Uint8Array(Math.min(this.maxPlaintext, Math.max(end, 2 * this.#buffer.length, 1024)));
      grown.set(this.#buffer.subarray(0, at));
      this.#buffer = grown;
    }
    this.#buffer[at] = kind;
    this.#buffer[at + 1] = data.length >>> 8;
    this.#buffer[at + 2] = data.length & 0xff;
    this.#buffer.set(data, at + recordHeader);
    this.#size = end;
  }
}

/** Encodes one frame alone into its plaintext(s): what FrameWriter does for a single frame. */
export function chunkFrame(data: Uint8Array, maxPlaintext = maxNoisePlaintext): Uint8Array[] {
  const writer = new FrameWriter(maxPlaintext);
  const out: Uint8Array[] = [];
  const keep = (plaintext: Uint8Array) => out.push(plaintext.slice());
  writer.add(data, keep);
  writer.flush(keep);
  return out;
}

/** Splits plaintexts into frames, reassembles chunked ones, and enforces the largest frame a peer may send. */
export class FrameReader {
  #parts: Uint8Array[] = [];
  #size = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Returns the frames completed by this plaintext, in order. */
  push(plaintext: Uint8Array): Uint8Array[] {
    if (plaintext.length === 0) throw new LinkError('frame_malformed', 'empty link message');
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < plaintext.length) {
      if (offset + recordHeader > plaintext.length) throw new LinkError('frame_malformed', 'truncated record header');
      const kind = plaintext[offset] as number;
      const length = ((plaintext[offset + 1] as number) << 8) | (plaintext[offset + 2] as number);
      const start = offset + recordHeader;
      if (start + length > plaintext.length) throw new LinkError('frame_malformed', 'record longer than its message');
      const data = plaintext.subarray(start, start + length);
      offset = start + length;
      if (kind === whole) {
        if (this.#parts.length > 0) throw new LinkError('frame_malformed', 'a whole frame arrived in the middle of a chunked one');
        if (data.length > this.maxFrameBytes) throw new LinkError('too_large', `frame of ${data.length} bytes exceeds ${this.maxFrameBytes}`);
        frames.push(data);
        continue;
      }
      if (kind !== more && kind !== last) throw new LinkError('frame_malformed', `unknown record marker ${kind}`);
      this.#size += data.length;
      if (this.#size > this.maxFrameBytes) throw new LinkError('too_large', `chunked frame exceeds ${this.maxFrameBytes} bytes`);
      this.#parts.push(data);
      if (kind === last) {
        const out = Buffer.concat(this.#parts);
        this.#parts = [];
        this.#size = 0;
        frames.push(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      }
    }
    return frames;
  }
}
