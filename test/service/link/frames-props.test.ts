import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkError } from '../../../service/link/errors.js';
import { FrameReader, FrameWriter, decodeFrame, encodeFrame, encodeFrameTransient, maxNoisePlaintext, type Frame } from '../../../service/link/frames.js';

const ulid = fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/);
const address = fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,20}$/), fc.stringMatching(/^[a-z0-9]{1,10}\.example$/)).map(([u, d]) => `${u}@${d}`);
const envelope = fc.record({
  id: ulid,
  from: address,
  to: fc.array(address, { minLength: 1, maxLength: 3 }),
  type: fc.constantFrom('message', 'recall', 'receipt', 'call'),
  ts: fc.integer({ min: 0, max: 2 ** 52 }),
  body: fc.uint8Array({ maxLength: 2048 }),
});
const frame = fc.oneof(
  fc.record({ t: fc.constant('ping' as const), id: fc.nat(2 ** 32 - 1), ts: fc.integer({ min: 0, max: 2 ** 52 }) }),
  fc.record({ t: fc.constant('lookup' as const), id: fc.nat(2 ** 32 - 1), users: fc.array(address, { minLength: 1, maxLength: 5 }) }),
  fc.record({ t: fc.constant('deliver' as const), id: fc.nat(2 ** 32 - 1), envelopes: fc.array(envelope, { minLength: 1, maxLength: 4 }) }),
  fc.record({ t: fc.constant('ack' as const), id: fc.nat(2 ** 32 - 1), stored: fc.array(ulid, { maxLength: 4 }), rejected: fc.constant([]) }),
  fc.record({ t: fc.constant('goaway' as const), code: fc.constantFrom('shutting_down', 'peer_suspended'), reason: fc.string({ maxLength: 50 }) }),
) as fc.Arbitrary<Frame>;

function normalise(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
}

describe('frame codec (property-based)', () => {
  it('any sequence of frames, packed by the writer at any message size, comes out of the reader identical and in order', () => {
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 64, max: maxNoisePlaintext }),
        fc.integer({ min: 1, max: 20 }),
        (frames, size, flushEvery) => {
          const writer = new FrameWriter(size);
          const reader = new FrameReader(16 * 1024 * 1024);
          const out: Frame[] = [];
          // As the link does: each plaintext is used before emit returns (encryption copies it),
          // and the frames come from the encoder's reused buffer, so the writer must copy them at once.
          const emit = (m: Uint8Array) => {
            expect(m.length).toBeLessThanOrEqual(size);
            out.push(...reader.push(m.slice()).map(decodeFrame));
          };
          frames.forEach((f, i) => {
            writer.add(encodeFrameTransient(f), emit);
            if (i % flushEvery === 0) writer.flush(emit);
          });
          writer.flush(emit);
          expect(writer.pending).toBe(false);
          expect(normalise(out)).toEqual(normalise(frames));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('encodeFrameTransient gives the bytes of encodeFrame', () => {
    fc.assert(
      fc.property(frame, frame, (a, b) => {
        const first = encodeFrameTransient(a);
        expect(Buffer.from(first).equals(Buffer.from(encodeFrame(a)))).toBe(true);
        const second = encodeFrameTransient(b);
        expect(Buffer.from(second).equals(Buffer.from(encodeFrame(b)))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary bytes never crash the reader or the decoder: they are frames or LinkErrors', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 5 }), (messages) => {
        const reader = new FrameReader(1024);
        for (const m of messages) {
          try {
            for (const bytes of reader.push(m)) decodeFrame(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(LinkError);
            expect(['frame_malformed', 'too_large', 'unknown_frame']).toContain((error as LinkError).code);
            return;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a frame over the size limit, whole or chunked, with too_large', () => {
    const big = encodeFrame({ t: 'ping', id: 1, ts: 1 });
    expect(() => new FrameReader(big.length - 1).push(Uint8Array.of(0, 0, big.length, ...big))).toThrow(expect.objectContaining({ code: 'too_large' }));
    const writer = new FrameWriter(64);
    const chunks: Uint8Array[] = [];
    writer.add(new Uint8Array(500), (c) => chunks.push(c.slice()));
    const reader = new FrameReader(200);
    expect(() => chunks.forEach((c) => reader.push(c))).toThrow(expect.objectContaining({ code: 'too_large' }));
  });
});
