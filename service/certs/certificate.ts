import { createHash, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { fromBer, toArrayBuffer } from './asn1.js';
import { CertError } from './errors.js';
import { canonicalIp, type SubjectAltNames } from './hostname.js';
import { describeKey, type KeyDescription } from './keys.js';
import { encodePem } from './pem.js';
import { x509 } from './x509.js';

/** One certificate with everything the checks look at, decoded once. */
export interface ParsedCertificate {
  der: Uint8Array;
  pem: string;
  x509: x509.X509Certificate;
  node: NodeX509Certificate;
  /** RFC 4514 string, e.g. `CN=fed.example.org, O=Example`. */
  subject: string;
  issuer: string;
  /** Comparison keys for name chaining: the exact DER and a case/space-folded string. */
  subjectKey: string;
  issuerKey: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, upper-case hex pairs joined by colons (as `openssl x509 -fingerprint`). */
  fingerprint256: string;
  signatureOid: string;
  signatureAlgorithm: SignatureAlgorithmInfo;
  basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  /** `x509.KeyUsageFlags` bits, or undefined when the extension is absent (any usage). */
  keyUsage: number | undefined;
  /** OIDs, or undefined when the extension is absent (any purpose). */
  extendedKeyUsage: string[] | undefined;
  sans: SubjectAltNames;
  hasSanExtension: boolean;
  subjectKeyId: string | undefined;
  authorityKeyId: string | undefined;
  publicKey: KeyObject;
  key: KeyDescription;
  /** Subject equals issuer; whether it also signed itself is checked separately. */
  selfIssued: boolean;
}

export interface SignatureAlgorithmInfo {
  name: string;
  /** SHA-1, MD5 or MD2 somewhere in the signature: collisions are practical. */
  weak: boolean;
}

const signatureAlgorithms: Record<string, SignatureAlgorithmInfo> = {
  '1.2.840.113549.1.1.2': { name: 'md2WithRSAEncryption', weak: true },
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', weak: true },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', weak: true },
  '1.3.14.3.2.29': { name: 'sha1WithRSASignature', weak: true },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', weak: true },
  '1.2.840.10040.4.3': { name: 'dsa-with-SHA1', weak: true },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', weak: false },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', weak: false },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', weak: false },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', weak: false },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', weak: false },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', weak: false },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', weak: false },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', weak: false },
  '1.3.101.112': { name: 'Ed25519', weak: false },
  '1.3.101.113': { name: 'Ed448', weak: false },
  '2.16.840.1.101.3.4.3.2': { name: 'dsa-with-SHA256', weak: false },
};

const rsaPssOid = '1.2.840.113549.1.1.10';
const pssHashes: Record<string, SignatureAlgorithmInfo> = {
  '1.3.14.3.2.26': { name: 'RSASSA-PSS with SHA-1', weak: true },
  '2.16.840.1.101.3.4.2.4': { name: 'RSASSA-PSS with SHA-224', weak: false },
  '2.16.840.1.101.3.4.2.1': { name: 'RSASSA-PSS with SHA-256', weak: false },
  '2.16.840.1.101.3.4.2.2': { name: 'RSASSA-PSS with SHA-384', weak: false },
  '2.16.840.1.101.3.4.2.3': { name: 'RSASSA-PSS with SHA-512', weak: false },
};

export const ekuServerAuth = '1.3.6.1.5.5.7.3.1';
export const ekuAny = '2.5.29.37.0';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

interface RawFields {
  signatureOid: string;
  signatureAlgorithm: SignatureAlgorithmInfo;
  issuerDer: string;
  subjectDer: string;
}

/** The few fields @peculiar/x509 does not expose: the exact name bytes and the signature OID. */
function readRawFields(der: Uint8Array): RawFields {
  const parsed = fromBer(der);
  if (!parsed || !(parsed.result instanceof asn1js.Sequence)) throw new Error('not a DER SEQUENCE');
  const [tbs, algorithm] = parsed.result.valueBlock.value;
  if (!(tbs instanceof asn1js.Sequence) || !(algorithm instanceof asn1js.Sequence)) throw new Error('not an X.509 certificate');
  const fields = tbs.valueBlock.value;
  // The version is an explicit [0] tag that v1 certificates leave out.
  const offset = fields[0]?.idBlock.tagClass === 3 && fields[0].idBlock.tagNumber === 0 ? 1 : 0;
  const issuer = fields[offset + 2];
  const subject = fields[offset + 4];
  const oidBlock = algorithm.valueBlock.value[0];
  if (!issuer || !subject || !(oidBlock instanceof asn1js.ObjectIdentifier)) throw new Error('not an X.509 certificate');
  const signatureOid = oidBlock.valueBlock.toString();
  let signatureAlgorithm = signatureAlgorithms[signatureOid] ?? { name: signatureOid, weak: false };
  if (signatureOid === rsaPssOid) signatureAlgorithm = pssAlgorithm(algorithm.valueBlock.value[1]);
  return { signatureOid, signatureAlgorithm, issuerDer: hex(issuer.valueBeforeDecodeView), subjectDer: hex(subject.valueBeforeDecodeView) };
}

/** RSASSA-PSS hides its hash in the parameters, and an absent hash means SHA-1 (RFC 4055). */
function pssAlgorithm(params: asn1js.AsnType | undefined): SignatureAlgorithmInfo {
  let hashOid = '1.3.14.3.2.26';
  if (params instanceof asn1js.Sequence) {
    const tagged = params.valueBlock.value.find((item) => item.idBlock.tagClass === 3 && item.idBlock.tagNumber === 0);
    const inner = (tagged as asn1js.Constructed | undefined)?.valueBlock.value[0];
    const oid = inner instanceof asn1js.Sequence ? inner.valueBlock.value[0] : undefined;
    if (oid instanceof asn1js.ObjectIdentifier) hashOid = oid.valueBlock.toString();
  }
  return pssHashes[hashOid] ?? { name: `RSASSA-PSS with ${hashOid}`, weak: false };
}

function foldName(name: string): string {
  return name.toLowerCase().replace(/\s+/g, ' ').trim();
}

function readSans(cert: x509.X509Certificate, node: NodeX509Certificate): { sans: SubjectAltNames; present: boolean } {
  const sans: SubjectAltNames = { dns: [], ip: [] };
  let extension: x509.SubjectAlternativeNameExtension | null;
  try {
    extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  } catch {
    // @peculiar/x509 refuses some otherName forms; OpenSSL's rendering still has DNS and IP.
    for (const part of (node.subjectAltName ?? '').split(', ')) {
      if (part.startsWith('DNS:')) sans.dns.push(part.slice(4).toLowerCase());
      else if (part.startsWith('IP Address:')) sans.ip.push(canonicalIp(part.slice(11)));
    }
    return { sans, present: node.subjectAltName !== undefined };
  }
  if (!extension) return { sans, present: false };
  for (const item of extension.names.items) {
    if (item.type === 'dns') sans.dns.push(item.value.toLowerCase());
    else if (item.type === 'ip') sans.ip.push(canonicalIp(item.value));
  }
  return { sans, present: true };
}

function fingerprint(der: Uint8Array): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/** Decodes one DER certificate; a damaged one is a `der_malformed` CertError, never a raw parser error. */
export function parseCertificateDer(der: Uint8Array): ParsedCertificate {
  try {
    const cert = new x509.X509Certificate(toArrayBuffer(der));
    const node = new NodeX509Certificate(Buffer.from(der));
    const raw = readRawFields(der);
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    const { sans, present } = readSans(cert, node);
    const subject = cert.subject;
    const issuer = cert.issuer;
    return {
      der,
      pem: encodePem('CERTIFICATE', der),
      x509: cert,
      node,
      subject,
      issuer,
      subjectKey: `${raw.subjectDer}|${foldName(subject)}`,
      issuerKey: `${raw.issuerDer}|${foldName(issuer)}`,
      serialNumber: cert.serialNumber,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      fingerprint256: fingerprint(der),
      signatureOid: raw.signatureOid,
      signatureAlgorithm: raw.signatureAlgorithm,
      basicConstraints: basic ? { ca: basic.ca, pathLength: basic.pathLength } : undefined,
      keyUsage: keyUsage ? keyUsage.usages : undefined,
      extendedKeyUsage: eku ? eku.usages.map(String) : undefined,
      sans,
      hasSanExtension: present,
      subjectKeyId: ski?.keyId.toLowerCase(),
      authorityKeyId: aki?.keyId?.toLowerCase(),
      publicKey: node.publicKey,
      key: describeKey(node.publicKey),
      selfIssued: raw.subjectDer === raw.issuerDer || foldName(subject) === foldName(issuer),
    };
  } catch (error) {
    if (error instanceof CertError) throw error;
    throw new CertError('der_malformed', `a certificate cannot be decoded: ${(error as Error).message}`, { cause: error });
  }
}

/** Same name, by exact bytes or by the RFC 5280 case-insensitive comparison. */
export function namesMatch(issuerKey: string, subjectKey: string): boolean {
  if (issuerKey === subjectKey) return true;
  const [issuerDer, issuerFolded] = issuerKey.split('|');
  const [subjectDer, subjectFolded] = subjectKey.split('|');
  return issuerDer === subjectDer || (issuerFolded !== undefined && issuerFolded === subjectFolded);
}

/** Whether `issuer`'s key produced the signature on `cert` (OpenSSL verifies, so PSS and SHA-1 work too). */
export function signedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return cert.node.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export function isSelfSigned(cert: ParsedCertificate): boolean {
  return cert.selfIssued && signedBy(cert, cert);
}

export function isCaCertificate(cert: ParsedCertificate): boolean {
  return cert.basicConstraints?.ca === true;
}

/** Short, recognisable name for messages: the CN when there is one, else the whole DN. */
export function displayName(cert: ParsedCertificate): string {
  const cn = cert.x509.subjectName.getField('CN')[0];
  return cn ?? cert.subject;
}

/** Public description of a certificate, for `consulate cert show` and the GUI. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  fingerprintSha256: string;
  /** DNS names and IP addresses from subjectAltName. */
  sans: string[];
  isCa: boolean;
  selfSigned: boolean;
  key: string;
  signatureAlgorithm: string;
}

export function certificateInfo(cert: ParsedCertificate): CertificateInfo {
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    fingerprintSha256: cert.fingerprint256,
    sans: [...cert.sans.dns, ...cert.sans.ip],
    isCa: isCaCertificate(cert),
    selfSigned: isSelfSigned(cert),
    key: cert.key.text,
    signatureAlgorithm: cert.signatureAlgorithm.name,
  };
}
