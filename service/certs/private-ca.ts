import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { parseCertificates } from './bundle.js';
import { certificateInfo, isCaCertificate, type CertificateInfo, type ParsedCertificate } from './certificate.js';
import { parseHostnames, readCsr, sanExtension, subjectName, type SubjectOptions } from './csr.js';
import { CertError } from './errors.js';
import { defaultKeyAlgorithm, generateKeyPair, importSigningKey, readPrivateKey, type KeyAlgorithm } from './keys.js';
import { encodePem } from './pem.js';
import { x509 } from './x509.js';

/** An organisation CA: keep `keyPem` offline or wrapped; hand out `certPem` to every peer. */
export interface PrivateCa {
  certPem: string;
  keyPem: string;
}

export interface CreatePrivateCaOptions {
  /** e.g. `Example Field Team CA`. */
  commonName: string;
  organization?: string | undefined;
  organizationalUnit?: string | undefined;
  country?: string | undefined;
  algorithm?: KeyAlgorithm | undefined;
  /** Default 3650 (ten years): a CA for an air-gapped network must outlive many server certificates. */
  validityDays?: number | undefined;
  now?: Date | undefined;
  randomBytes?: ((size: number) => Uint8Array) | undefined;
}

export interface IssueServerCertificateOptions extends SubjectOptions {
  ca: PrivateCa;
  /** DNS names and IP addresses; defaults to the SANs requested in `csrPem`. */
  hostnames?: readonly string[] | undefined;
  /** Sign this request instead of generating a key here. */
  csrPem?: string | undefined;
  /** Key type when a key is generated. Default `ecdsa-p256`. */
  algorithm?: KeyAlgorithm | undefined;
  /** Default 397, the longest lifetime browsers accept; clipped to the CA's own expiry. */
  validityDays?: number | undefined;
  now?: Date | undefined;
  randomBytes?: ((size: number) => Uint8Array) | undefined;
}

export interface IssuedCertificate {
  certPem: string;
  /** Server certificate followed by the CA certificate, ready for `CertStore.install`. */
  chainPem: string;
  /** Set when the key was generated here (no CSR given). */
  keyPem: string | undefined;
  info: CertificateInfo;
}

const day = 86_400_000;
// Peers with slightly slow clocks must not see a brand-new certificate as "not yet valid".
const backdate = 60 * 60 * 1000;

export const defaultCaValidityDays = 3650;
export const defaultServerValidityDays = 397;

/** 16 random bytes, top bit clear so the DER INTEGER stays positive and exactly 16 bytes long. */
function serialNumber(random: (size: number) => Uint8Array): string {
  const bytes = Uint8Array.from(random(16));
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

function validity(days: number | undefined, fallback: number): number {
  const value = days ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > 36_500)
    throw new CertError('ca_invalid', `validity of ${String(value)} days is out of range (1 to 36500)`);
  return value;
}

export async function createPrivateCa(options: CreatePrivateCaOptions): Promise<PrivateCa & { info: CertificateInfo }> {
  const now = options.now ?? new Date();
  const random = options.randomBytes ?? nodeRandomBytes;
  if (!options.commonName.trim()) throw new CertError('subject_invalid', 'the CA needs a common name');
  const days = validity(options.validityDays, defaultCaValidityDays);
  const generated = await generateKeyPair(options.algorithm ?? defaultKeyAlgorithm);
  const signing = await importSigningKey(readPrivateKey(generated.privateKeyPem));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(random),
    name: subjectName(options, []),
    notBefore: new Date(now.getTime() - backdate),
    notAfter: new Date(now.getTime() + days * day),
    keys: signing.keys,
    signingAlgorithm: signing.signingAlgorithm,
    extensions: [
      // pathlen 0: this CA signs servers only, never another CA, so a stolen intermediate cannot exist.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(signing.keys.publicKey),
    ],
  });
  const certPem = encodePem('CERTIFICATE', new Uint8Array(cert.rawData));
  const [parsed] = parseCertificates(certPem);
  return { certPem, keyPem: generated.privateKeyPem, info: certificateInfo(parsed as ParsedCertificate) };
}

function loadCa(ca: PrivateCa, now: Date): { cert: ParsedCertificate; key: ReturnType<typeof readPrivateKey> } {
  let cert: ParsedCertificate;
  try {
    const certs = parseCertificates(ca.certPem);
    if (certs.length !== 1) throw new CertError('ca_invalid', 'the CA certificate file must hold exactly one certificate');
    cert = certs[0] as ParsedCertificate;
  } catch (error) {
    if (error instanceof CertError && error.code === 'ca_invalid') throw error;
    throw new CertError('ca_invalid', `the CA certificate cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const key = readPrivateKey(ca.keyPem);
  if (!isCaCertificate(cert)) throw new CertError('ca_invalid', `"${cert.subject}" is not a CA certificate`);
  if (!cert.node.checkPrivateKey(key)) throw new CertError('key_mismatch', 'the CA key does not belong to the CA certificate');
  if (cert.notAfter.getTime() <= now.getTime()) throw new CertError('cert_expired', `the CA "${cert.subject}" expired on ${cert.notAfter.toISOString()}`);
  if (cert.notBefore.getTime() > now.getTime())
    throw new CertError('cert_not_yet_valid', `the CA "${cert.subject}" is not valid until ${cert.notBefore.toISOString()}`);
  return { cert, key };
}

/**
 * A server certificate from the organisation CA, for the federation and file-proxy
 * hostnames. Either signs a CSR (the key never leaves the requesting appliance) or
 * generates the key here (one appliance issuing for itself).
 */
export async function issueServerCertificate(options: IssueServerCertificateOptions): Promise<IssuedCertificate> {
  const now = options.now ?? new Date();
  const random = options.randomBytes ?? nodeRandomBytes;
  const days = validity(options.validityDays, defaultServerValidityDays);
  const ca = loadCa(options.ca, now);
  let publicKey: x509.PublicKey;
  let keyPem: string | undefined;
  let requestedNames: string[] = [];
  let requestedSubject: string | undefined;
  if (options.csrPem !== undefined) {
    const { request, info } = await readCsr(options.csrPem);
    publicKey = request.publicKey;
    requestedNames = info.sans;
    requestedSubject = request.subjectName.getField('CN')[0];
  } else {
    const generated = await generateKeyPair(options.algorithm ?? defaultKeyAlgorithm);
    keyPem = generated.privateKeyPem;
    publicKey = new x509.PublicKey(generated.publicKeyPem);
  }
  const hostnames = parseHostnames(options.hostnames ?? requestedNames, true);
  const signing = await importSigningKey(ca.key);
  const rsa = (publicKey.algorithm as { name: string }).name.startsWith('RSA');
  const caKeyId = ca.cert.subjectKeyId;
  const notAfter = Math.min(now.getTime() + days * day, ca.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(random),
    subject: subjectName({ ...options, commonName: options.commonName ?? requestedSubject }, hostnames),
    // The CA's own encoded name, so issuer and subject match byte for byte.
    issuer: ca.cert.x509.subjectName,
    notBefore: new Date(now.getTime() - backdate),
    notAfter: new Date(notAfter),
    publicKey,
    signingKey: signing.keys.privateKey,
    signingAlgorithm: signing.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0), true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      sanExtension(hostnames),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      caKeyId ? new x509.AuthorityKeyIdentifierExtension(caKeyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.x509.publicKey),
    ],
  });
  const certPem = encodePem('CERTIFICATE', new Uint8Array(cert.rawData));
  const [parsed] = parseCertificates(certPem);
  return { certPem, chainPem: certPem + ca.cert.pem, keyPem, info: certificateInfo(parsed as ParsedCertificate) };
}

/** Only the CA certificate, re-encoded, so a CA key pasted alongside it can never leak out. */
export function exportCaCertificatePem(ca: PrivateCa | string): string {
  const certs = parseCertificates(typeof ca === 'string' ? ca : ca.certPem);
  const cert = certs.find(isCaCertificate);
  if (!cert) throw new CertError('ca_invalid', 'the text contains no CA certificate');
  return cert.pem;
}
