import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CertError, createPrivateCa, encodePem, importCertificateBundle, issueServerCertificate, parsePem } from '../../../service/certs/index.js';
import { parseCertificates } from '../../../service/certs/bundle.js';

function onlyCertErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof CertError)) throw error;
  }
}

const labels = fc.constantFrom('CERTIFICATE', 'PRIVATE KEY', 'PKCS7', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'TRUSTED CERTIFICATE', 'X');

/** Text that looks like PEM more often than random strings would: real labels, base64, truncations. */
const pemLike = fc.oneof(
  fc.string(),
  fc.tuple(labels, fc.uint8Array({ maxLength: 300 })).map(([label, der]) => encodePem(label, der)),
  fc.tuple(labels, fc.uint8Array({ maxLength: 300 }), fc.nat()).map(([label, der, cut]) => {
    const pem = encodePem(label, der);
    return pem.slice(0, cut % (pem.length + 1));
  }),
  fc.tuple(labels, fc.string(), fc.string()).map(([label, body, header]) => `-----BEGIN ${label}-----\n${header}: x\n\n${body}\n-----END ${label}-----\n`),
  fc
    .array(fc.constantFrom('-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', 'MIIB', '====', '\n', 'Proc-Type: 4,ENCRYPTED', ' '))
    .map((parts) => parts.join('')),
);

describe('PEM and bundle parsing on hostile input', () => {
  it('parsePem throws nothing but CertError', () => {
    fc.assert(
      fc.property(pemLike, (text) => onlyCertErrors(() => parsePem(text))),
      { numRuns: 2000 },
    );
  });

  it('parseCertificates throws nothing but CertError, for text and bytes', () => {
    fc.assert(
      fc.property(pemLike, (text) => onlyCertErrors(() => parseCertificates(text))),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => onlyCertErrors(() => parseCertificates(bytes))),
      { numRuns: 1000 },
    );
  });

  it('importCertificateBundle rejects with nothing but CertError', async () => {
    const der = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      // A SEQUENCE header makes the sniffer go deeper into the PKCS#7 / PKCS#12 paths.
      fc
        .uint8Array({ maxLength: 200 })
        .map((body) => Uint8Array.from([0x30, body.length > 127 ? 0x81 : body.length, ...(body.length > 127 ? [body.length] : []), ...body])),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(pemLike, der), fc.option(fc.string(), { nil: undefined }), async (input, password) => {
        await importCertificateBundle(input, { password }).catch((error: unknown) => {
          if (!(error instanceof CertError)) throw error;
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips encodePem and parsePem', () => {
    fc.assert(
      fc.property(labels, fc.uint8Array({ minLength: 1, maxLength: 500 }), (label, der) => {
        const [block] = parsePem(`junk before\n${encodePem(label, der)}junk after`);
        expect(block?.label).toBe(label);
        expect(Buffer.from(block?.der ?? []).equals(Buffer.from(der))).toBe(true);
      }),
    );
  });

  it('a real certificate chain with flipped bytes or cut short fails only with CertError', async () => {
    const ca = await createPrivateCa({ commonName: 'Fuzz CA' });
    const issued = await issueServerCertificate({ ca, hostnames: ['fed.example.org'] });
    const der = new Uint8Array(Buffer.from(issued.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(der.length))
      .map(([flips, cut]) => {
        const copy = Uint8Array.from(der);
        for (const [index, mask] of flips) copy[index] = (copy[index] as number) ^ mask;
        return cut % 3 === 0 ? copy.subarray(0, cut) : copy;
      });
    fc.assert(
      fc.property(mutated, (bytes) => {
        onlyCertErrors(() => parseCertificates(bytes));
        onlyCertErrors(() => parseCertificates(encodePem('CERTIFICATE', bytes) + ca.certPem));
      }),
      { numRuns: 1000 },
    );
  });

  it('a malformed time inside a name is a CertError (asn1js throws there instead of reporting)', async () => {
    const ca = await createPrivateCa({ commonName: 'Fuzz CA' });
    const der = Buffer.from(ca.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const commonNameOid = der.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]));
    der[commonNameOid] = 0x18; // GeneralizedTime tag where the OID tag was
    expect(() => parseCertificates(new Uint8Array(der))).toThrow(CertError);
  });
});
