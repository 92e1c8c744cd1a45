import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { streamSubmit, submitRequest } from '../../service/home/contract.js';
import { isPlainStreamSubmit, isPlainSubmit } from '../../service/home/submit-check.js';
import { fastPathAgreement } from '../helpers/fast-path.js';

// The fast path must accept exactly what the schema accepts, and only values the schema returns unchanged.
// Inputs go through JSON first, as every request body does.

const ULID_CHARS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ulid = fc.string({ unit: fc.constantFrom(...ULID_CHARS), minLength: 26, maxLength: 26 });
const nearUlid = fc.oneof(
  { weight: 12, arbitrary: ulid },
  fc.string({ unit: fc.constantFrom(...ULID_CHARS, 'I', 'L', 'O', 'U', 'a', ' '), minLength: 24, maxLength: 28 }),
  fc.string(),
);
const user = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[a-z0-9._-]{1,12}$/) },
  fc.constantFrom('a b', 'x@y', '', 'ü', 'tab\t', 'x'.repeat(128), 'x'.repeat(129)),
);
const domain = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[a-z0-9.-]{1,20}$/) },
  fc.constantFrom('B.example', 'b_example', '', 'b.example ', 'ü.example', 'a'.repeat(253), 'a'.repeat(254)),
);
const address = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(user, domain).map(([u, d]) => `${u}@${d}`) },
  fc.constantFrom('bob', '@b.example', 'bob@', 'bob@@b.example', 'bob@b.example\n'),
);
const base64 = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')) },
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')) },
  fc.constantFrom('abc===', 'ab c', 'a=b', '====', '', '!!', 'YQ'),
);
const ts = fc.oneof(
  { weight: 15, arbitrary: fc.nat() },
  fc.integer({ min: -5, max: -1 }),
  fc.constantFrom(0.5, -0, 2 ** 53, 2 ** 53 - 1, 1e300, -1e-9),
  fc.double(),
  fc.constantFrom('1', null, true),
);
const type = fc.oneof({ weight: 12, arbitrary: fc.constantFrom('message', 'recall', 'receipt', 'call') }, fc.constantFrom('undeliverable', 'Message', '', 1));
const envelope = fc
  .record({
    id: nearUlid,
    from: address,
    to: fc.oneof(
      { weight: 12, arbitrary: fc.array(address, { minLength: 1, maxLength: 3 }) },
      fc.constant([]),
      fc.constant('bob@b.example'),
      fc.array(fc.integer(), { maxLength: 2 }),
    ),
    type,
    ts,
    body: base64,
  })
  .chain((e) =>
    fc.oneof(
      { weight: 12, arbitrary: fc.constant<Record<string, unknown>>(e) },
      // a key missing, or one too many
      fc.constantFrom(...Object.keys(e)).map((k) => Object.fromEntries(Object.entries(e).filter(([key]) => key !== k))),
      fc.constantFrom('ref', 'extra', '__proto__').map((k) => JSON.parse(JSON.stringify(e).replace(/^\{/, `{"${k}":1,`)) as Record<string, unknown>),
    ),
  );
const request = fc.oneof(
  { weight: 8, arbitrary: fc.array(envelope, { minLength: 1, maxLength: 4 }).map((envelopes) => ({ envelopes })) },
  fc.constant({ envelopes: [] }),
  fc.array(envelope, { maxLength: 2 }).map((envelopes) => ({ envelopes, extra: true })),
  fc.constantFrom(null, [], 'x', 1, {}),
);
const streamMessage = fc.oneof(
  request.map((submit) => ({ submit })),
  fc
    .tuple(
      request,
      fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('x'.repeat(200), 'x'.repeat(201), ''), fc.integer(), fc.double(), fc.constant(null), fc.boolean()),
    )
    .map(([submit, tag]) => ({ submit, tag })),
  request.map((submit) => ({ submit, other: 1 })),
);

const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null');

describe('submit fast path against the zod schema', () => {
  it('accepts exactly what submitRequest accepts, and such a value is what zod would return', () => {
    const accepted = fastPathAgreement(request, viaJson, isPlainSubmit, submitRequest);
    expect(accepted).toBeGreaterThan(100); // the generators reach the accepting side too
  });

  it('does the same for a submission on the stream, tag included', () => {
    fc.assert(
      fc.property(streamMessage, (raw) => {
        const value = viaJson(raw);
        expect(isPlainStreamSubmit(value)).toBe(streamSubmit.safeParse(value).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees at the count limits: 5000 envelopes, 1000 recipients, and one more of each', () => {
    const one = { id: '01J00000000000000000000000', from: 'alice@a.example', to: ['bob@b.example'], type: 'message', ts: 1, body: '' };
    const cases = [
      { envelopes: Array.from({ length: 5000 }, () => one) },
      { envelopes: Array.from({ length: 5001 }, () => one) },
      { envelopes: [{ ...one, to: Array.from({ length: 1000 }, () => 'bob@b.example') }] },
      { envelopes: [{ ...one, to: Array.from({ length: 1001 }, () => 'bob@b.example') }] },
    ];
    expect(cases.map((c) => [isPlainSubmit(c), submitRequest.safeParse(c).success])).toEqual([
      [true, true],
      [false, false],
      [true, true],
      [false, false],
    ]);
  });
});
