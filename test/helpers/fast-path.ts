import fc from 'fast-check';
import { expect } from 'vitest';
import type { z } from 'zod';

/**
 * Holds a fast path to its zod schema: each generated value goes through `wire` (JSON, CBOR: what
 * the real input passes through), then the fast path must accept it exactly when the schema does,
 * and what it accepts must be what zod would return. Returns how many values the schema accepted,
 * so a test can show the generators reach the accepting side too.
 */
export function fastPathAgreement<T>(
  values: fc.Arbitrary<T>,
  wire: (raw: T) => unknown,
  fast: (value: unknown) => boolean,
  schema: z.ZodType,
  numRuns = 3000,
): number {
  let accepted = 0;
  fc.assert(
    fc.property(values, (raw) => {
      const value = wire(raw);
      const zod = schema.safeParse(value);
      expect(fast(value)).toBe(zod.success);
      if (zod.success) {
        accepted++;
        expect(zod.data).toEqual(value);
      }
    }),
    { numRuns },
  );
  return accepted;
}
