import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { fromBer, toArrayBuffer } from './asn1.js';
import { certificateInfo, parseCertificateDer, type CertificateInfo, type ParsedCertificate } from './certificate.js';
import { orderChain } from './chain.js';
import { CertError } from './errors.js';
import { isPrivateKeyLabel, privateKeyToPem, readPrivateKey } from './keys.js';
import { encodePem, looksLikePem, parsePem, type PemBlock } from './pem.js';
import { readPkcs12 } from './pkcs12.js';
import { x509 } from './x509.js';

export type BundleFormat = 'pem' | 'der' | 'pkcs7' | 'pkcs12';

export interface ImportOptions {
  /** For PKCS#12 files and encrypted PEM keys. */
  password?: string | undefined;
  /** A key kept in a separate file; wins over a key inside the bundle. */
  keyPem?: string | undefined;
}

export interface ImportedBundle {
  format: BundleFormat;
  /** Leaf first, then its issuers, then any unrelated certificates that were in the file. */
  certChainPem: string;
  /** PKCS#8 PEM, unencrypted, or undefined when the input had no key. */
  keyPem: string | undefined;
  leaf: CertificateInfo;
  chain: CertificateInfo[];
}

const certificateLabels = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const pkcs7Labels = new Set(['PKCS7', 'PKCS #7 SIGNED DATA', 'CMS']);
const signedDataOid = '1.2.840.113549.1.7.2';

/** OpenSSL's TRUSTED CERTIFICATE appends trust settings after the certificate; keep the certificate. */
function firstElement(der: Uint8Array): Uint8Array {
  const parsed = fromBer(der);
  if (!parsed) throw new CertError('der_malformed', 'a certificate block is not valid DER');
  return der.subarray(0, parsed.length);
}

export function readPkcs7(der: Uint8Array): ParsedCertificate[] {
  let certs: x509.X509Certificates;
  try {
    certs = new x509.X509Certificates(toArrayBuffer(der));
  } catch (error) {
    throw new CertError('p7_malformed', `the PKCS#7 data cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if (certs.length === 0) throw new CertError('p7_malformed', 'the PKCS#7 file contains no certificates');
  return certs.map((cert) => parseCertificateDer(new Uint8Array(cert.rawData)));
}

function certificatesFromBlocks(blocks: readonly PemBlock[]): ParsedCertificate[] {
  const certs: ParsedCertificate[] = [];
  for (const block of blocks) {
    if (certificateLabels.has(block.label)) certs.push(parseCertificateDer(block.label === 'TRUSTED CERTIFICATE' ? firstElement(block.der) : block.der));
    else if (pkcs7Labels.has(block.label)) certs.push(...readPkcs7(block.der));
  }
  return certs;
}

type DerKind = 'certificate' | 'pkcs7' | 'pkcs12';

function sniffDer(der: Uint8Array): DerKind {
  const parsed = fromBer(der);
  if (!parsed || !(parsed.result instanceof asn1js.Sequence)) {
    throw new CertError('format_unknown', 'the file is neither PEM nor a DER certificate, PKCS#7 or PKCS#12 file');
  }
  const [first, second] = parsed.result.valueBlock.value;
  if (first instanceof asn1js.ObjectIdentifier) {
    if (first.valueBlock.toString() === signedDataOid) return 'pkcs7';
    throw new CertError('format_unknown', `the file is a PKCS#7/CMS structure of type ${first.valueBlock.toString()}, not a certificate bundle`);
  }
  if (first instanceof asn1js.Integer && second instanceof asn1js.Sequence) return 'pkcs12';
  if (first instanceof asn1js.Sequence) return 'certificate';
  throw new CertError('format_unknown', 'the file is neither PEM nor a DER certificate, PKCS#7 or PKCS#12 file');
}

/** Certificates from PEM (certificates and PKCS#7 blocks), DER, or DER PKCS#7; keys are ignored. */
export function parseCertificates(input: string | Uint8Array): ParsedCertificate[] {
  const text = typeof input === 'string' ? input : pemText(input);
  if (text !== undefined) {
    const certs = certificatesFromBlocks(parsePem(text));
    if (certs.length === 0) throw new CertError('bundle_empty', 'the PEM text contains no certificate');
    return certs;
  }
  const der = input as Uint8Array;
  const kind = sniffDer(der);
  if (kind === 'pkcs12') throw new CertError('format_unknown', 'the file is PKCS#12; import it with its password');
  return kind === 'pkcs7' ? readPkcs7(der) : [parseCertificateDer(der)];
}

/** Bytes that are really a PEM file (an uploaded .pem or .crt) are treated as text. */
function pemText(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.subarray(0, 4096)).toString('latin1');
  return looksLikePem(head) ? Buffer.from(bytes).toString('latin1') : undefined;
}

function chooseKey(keys: readonly KeyObject[], certs: readonly ParsedCertificate[]): KeyObject | undefined {
  if (keys.length <= 1) return keys[0];
  const matching = keys.filter((key) => certs.some((cert) => cert.node.checkPrivateKey(key)));
  if (matching.length === 1) return matching[0];
  throw new CertError('key_ambiguous', `the bundle contains ${keys.length} private keys; keep only the one for the server certificate`);
}

function leafFor(key: KeyObject | undefined, certs: readonly ParsedCertificate[]): ParsedCertificate | undefined {
  if (!key) return undefined;
  return certs.find((cert) => {
    try {
      return cert.node.checkPrivateKey(key);
    } catch {
      return false;
    }
  });
}

/**
 * Reads what an operator gets from a CA: a PEM bundle (certificates, optionally the key),
 * a `.p7b` (PEM or DER), a `.p12`/`.pfx` with its password, or a single DER certificate.
 * Nothing is judged here; `validateCertificate` does that.
 */
export async function importCertificateBundle(input: string | Uint8Array, options: ImportOptions = {}): Promise<ImportedBundle> {
  let format: BundleFormat;
  let certs: ParsedCertificate[];
  const keys: KeyObject[] = [];
  const text = typeof input === 'string' ? input : pemText(input);
  if (text !== undefined) {
    const blocks = parsePem(text);
    certs = certificatesFromBlocks(blocks);
    format = blocks.some((block) => pkcs7Labels.has(block.label)) && !blocks.some((block) => certificateLabels.has(block.label)) ? 'pkcs7' : 'pem';
    const keyBlocks = blocks.filter((block) => isPrivateKeyLabel(block.label));
    if (options.keyPem === undefined) {
      for (const block of keyBlocks) {
        keys.push(readPrivateKey(pemOf(block), { password: options.password }));
      }
    }
  } else {
    const der = input as Uint8Array;
    const kind = sniffDer(der);
    if (kind === 'pkcs12') {
      if (options.password === undefined) throw new CertError('p12_bad_password', 'the PKCS#12 file needs its password');
      format = 'pkcs12';
      const contents = await readPkcs12(der, options.password);
      certs = contents.certificates.map((certDer) => parseCertificateDer(certDer));
      if (options.keyPem === undefined) for (const keyDer of contents.privateKeys) keys.push(readPrivateKey(keyDer));
    } else {
      format = kind === 'pkcs7' ? 'pkcs7' : 'der';
      certs = kind === 'pkcs7' ? readPkcs7(der) : [parseCertificateDer(der)];
    }
  }
  if (options.keyPem !== undefined) keys.push(readPrivateKey(options.keyPem, { password: options.password }));
  if (certs.length === 0) throw new CertError('bundle_empty', 'the file contains no certificate');
  const key = chooseKey(keys, certs);
  const ordered = orderChain(certs, leafFor(key, certs));
  const chain = ordered.map(certificateInfo);
  return {
    format,
    certChainPem: ordered.map((cert) => cert.pem).join(''),
    keyPem: key ? privateKeyToPem(key) : undefined,
    leaf: chain[0] as CertificateInfo,
    chain,
  };
}

/** One key block as its own PEM text, keeping the RFC 1421 headers of legacy encrypted keys. */
function pemOf(block: PemBlock): string {
  const headers = Object.entries(block.headers).map(([name, value]) => `${name}: ${value}\n`);
  const body = encodePem(block.label, block.der);
  if (headers.length === 0) return body;
  const firstNewline = body.indexOf('\n') + 1;
  return `${body.slice(0, firstNewline)}${headers.join('')}\n${body.slice(firstNewline)}`;
}
