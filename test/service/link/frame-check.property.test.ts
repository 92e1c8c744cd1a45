import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainDeliveryFrame } from '../../../service/link/frame-check.js';
import { decodeFrame, encodeFrame, frameSchema, type Frame } from '../../../service/link/frames.js';
import { fastPathAgreement } from '../../helpers/fast-path.js';

// The fast path must accept exactly the deliver and ack frames the schema accepts, and only
// values the schema returns unchanged. Inputs go through CBOR first, as every frame does.

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true, int64AsNumber: true } as ConstructorParameters<
  typeof Encoder
>[0]);
const viaCbor = (value: unknown): unknown => cbor.decode(cbor.encode(value));

const ULID_CHARS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ulid = fc.string({ unit: fc.constantFrom(...ULID_CHARS), minLength: 26, maxLength: 26 });
const nearUlid = fc.oneof(
  { weight: 12, arbitrary: ulid },
  fc.string({ unit: fc.constantFrom(...ULID_CHARS, 'I', 'a', ' '), minLength: 25, maxLength: 27 }),
  fc.integer(),
);
const address = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), fc.stringMatching(/^[a-z0-9.-]{1,20}$/)).map(([u, d]) => `${u}@${d}`) },
  fc.constantFrom('bob', 'bob@', '@b.example', 'a b@b.example', 'bob@B.example', `${'x'.repeat(129)}@b.example`, `bob@${'a'.repeat(254)}`, 7),
);
const nat = fc.oneof(
  { weight: 12, arbitrary: fc.nat() },
  fc.constantFrom(-1, 0.5, -0, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e300, Number.NaN, '1', null, true),
);
const requestId = fc.oneof({ weight: 12, arbitrary: fc.nat(2 ** 32 - 1) }, fc.constantFrom(-1, 2 ** 32, 0.5, 2 ** 53, '1', null));
const body = fc.oneof({ weight: 12, arbitrary: fc.uint8Array({ maxLength: 64 }) }, fc.constantFrom('AAAA', 1, null, [1, 2]));

/** Drops one key, adds an unknown one, or sets an optional one to undefined, now and then. */
function mutated<T extends Record<string, unknown>>(base: fc.Arbitrary<T>, optional: string[]): fc.Arbitrary<Record<string, unknown>> {
  return base.chain((value) =>
    fc.oneof(
      { weight: 12, arbitrary: fc.constant<Record<string, unknown>>(value) },
      fc.constantFrom(...Object.keys(value)).map((k) => Object.fromEntries(Object.entries(value).filter(([key]) => key !== k))),
      fc.constantFrom('extra', 'T', ...optional).map((k) => ({ ...value, [k]: 1 })),
      ...(optional.length ? [fc.constantFrom(...optional).map((k) => ({ ...value, [k]: undefined }))] : []),
    ),
  );
}

const envelope = mutated(
  fc
    .record({
      id: nearUlid,
      from: address,
      to: fc.oneof({ weight: 12, arbitrary: fc.array(address, { minLength: 1, maxLength: 3 }) }, fc.constant([]), fc.constant('bob@b.example')),
      type: fc.oneof({ weight: 12, arbitrary: fc.constantFrom('message', 'recall', 'receipt', 'call') }, fc.constantFrom('Message', 'undeliverable', 1)),
      ts: nat,
      body,
    })
    .chain((e) =>
      fc.option(fc.oneof({ weight: 8, arbitrary: ulid }, fc.constantFrom(1, null)), { nil: undefined }).map((ref) => (ref === undefined ? e : { ...e, ref })),
    ),
  ['ref'],
);
const deliver = mutated(
  fc
    .record({
      t: fc.constant('deliver'),
      id: requestId,
      envelopes: fc.oneof({ weight: 12, arbitrary: fc.array(envelope, { minLength: 1, maxLength: 3 }) }, fc.constant([])),
    })
    .chain((f) => fc.record({ seq: nat, prev: nat }, { requiredKeys: [] }).map((extra) => ({ ...f, ...extra }))),
  ['seq', 'prev'],
);
const rejection = mutated(fc.record({ id: fc.oneof(ulid, fc.constant(5)), code: fc.constantFrom('out_of_order', 7), reason: fc.string({ maxLength: 8 }) }), []);
const ack = mutated(
  fc
    .record({
      t: fc.constant('ack'),
      id: requestId,
      stored: fc.oneof({ weight: 12, arbitrary: fc.array(ulid, { maxLength: 3 }) }, fc.constant([1]), fc.constant('x')),
      rejected: fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, fc.array(rejection, { minLength: 1, maxLength: 2 })),
    })
    .chain((f) =>
      fc.record({ retryAfterMs: fc.oneof(fc.integer(), fc.constantFrom(0.5, 2 ** 53, '1')) }, { requiredKeys: [] }).map((extra) => ({ ...f, ...extra })),
    ),
  ['retryAfterMs'],
);
const other = fc.oneof(
  fc.record({ t: fc.constant('ping'), id: requestId, ts: nat }),
  fc.constantFrom(null, [], 'deliver', 1, {}, { t: 'deliver' }, { t: 'ack' }, { t: 'lookup', id: 1, users: ['bob@b.example'] }),
);

const agreement = (frames: fc.Arbitrary<Record<string, unknown>>) => fastPathAgreement(frames, viaCbor, isPlainDeliveryFrame, frameSchema);

describe('deliver/ack fast path against the zod frame schema', () => {
  // The generators reach the accepting side too, not only the refusals.
  it('accepts exactly the deliver frames frameSchema accepts, as zod would return them', () => {
    expect(agreement(deliver)).toBeGreaterThan(300);
  });

  it('does the same for ack frames', () => {
    expect(agreement(ack)).toBeGreaterThan(300);
  });

  it('leaves every other frame and value to zod', () => {
    fc.assert(
      fc.property(other, (raw) => {
        expect(isPlainDeliveryFrame(viaCbor(raw))).toBe(false);
      }),
    );
  });

  it('agrees at the count limits: 10,000 envelopes, 1000 recipients, and one more of each', () => {
    const one = { id: '01J00000000000000000000000', from: 'alice@a.example', to: ['bob@b.example'], type: 'message', ts: 1, body: new Uint8Array(1) };
    const cases = [
      { t: 'deliver', id: 1, envelopes: Array.from({ length: 10_000 }, () => one) },
      { t: 'deliver', id: 1, envelopes: Array.from({ length: 10_001 }, () => one) },
      { t: 'deliver', id: 1, envelopes: [{ ...one, to: Array.from({ length: 1000 }, () => 'bob@b.example') }] },
      { t: 'deliver', id: 1, envelopes: [{ ...one, to: Array.from({ length: 1001 }, () => 'bob@b.example') }] },
    ].map(viaCbor);
    expect(cases.map((c) => [isPlainDeliveryFrame(c), frameSchema.safeParse(c).success])).toEqual([
      [true, true],
      [false, false],
      [true, true],
      [false, false],
    ]);
  });

  it('decodeFrame still names the problem of a malformed deliver frame', () => {
    const bad = encodeFrame({ t: 'deliver', id: 1, envelopes: [] } as unknown as Frame);
    expect(() => decodeFrame(bad)).toThrow(expect.objectContaining({ code: 'frame_malformed', message: expect.stringContaining('envelopes') }));
  });
});
