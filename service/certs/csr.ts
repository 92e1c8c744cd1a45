import { createPublicKey } from 'node:crypto';
import { toArrayBuffer } from './asn1.js';
import { CertError } from './errors.js';
import { canonicalIp, parseHostname, type Hostname } from './hostname.js';
import { defaultKeyAlgorithm, describeKey, generateKeyPair, importSigningKey, readPrivateKey, type KeyAlgorithm } from './keys.js';
import { encodePem, parsePem } from './pem.js';
import { x509 } from './x509.js';

export interface SubjectOptions {
  /** Defaults to the first hostname. */
  commonName?: string | undefined;
  organization?: string | undefined;
  organizationalUnit?: string | undefined;
  /** Two-letter ISO country code. */
  country?: string | undefined;
}

export interface CreateCsrOptions extends SubjectOptions {
  /** DNS names (wildcards allowed) and IP addresses: the federation and file-proxy hostnames. */
  hostnames: readonly string[];
  /** Key type for a new key; ignored when `keyPem` is given. Default `ecdsa-p256`. */
  algorithm?: KeyAlgorithm | undefined;
  /** Reuse an existing key (renewal with the same key, e.g. for pinned deployments). */
  keyPem?: string | undefined;
  keyPassword?: string | undefined;
}

export interface CsrResult {
  csrPem: string;
  /** PKCS#8 PEM of the key the CSR was signed with (new or the one passed in). */
  keyPem: string;
  /** `ECDSA P-256`, `RSA 3072`, ... */
  key: string;
  hostnames: Hostname[];
}

export interface CsrInfo {
  subject: string;
  /** DNS names and IP addresses requested in subjectAltName. */
  sans: string[];
  key: string;
}

const sanOid = '2.5.29.17';

type JsonName = Array<Record<string, string[]>>;

export function subjectName(options: SubjectOptions, hostnames: readonly Hostname[]): JsonName {
  const commonName = options.commonName ?? hostnames[0]?.value;
  const name: JsonName = [];
  if (options.country) {
    if (!/^[A-Za-z]{2}$/.test(options.country)) throw new CertError('subject_invalid', `country "${options.country}" must be a two-letter ISO code`);
    name.push({ C: [options.country.toUpperCase()] });
  }
  if (options.organization) name.push({ O: [options.organization] });
  if (options.organizationalUnit) name.push({ OU: [options.organizationalUnit] });
  // X.520 caps the CN at 64 characters; a longer hostname lives only in the SAN.
  if (commonName && commonName.length <= 64) name.push({ CN: [commonName] });
  return name;
}

export function parseHostnames(hostnames: readonly string[], allowWildcard: boolean): Hostname[] {
  if (hostnames.length === 0) throw new CertError('hostname_invalid', 'at least one hostname is required');
  const parsed = hostnames.map((name) => parseHostname(name, { allowWildcard }));
  const seen = new Set<string>();
  return parsed.filter((h) => !seen.has(`${h.kind}:${h.value}`) && seen.add(`${h.kind}:${h.value}`));
}

export function sanExtension(hostnames: readonly Hostname[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension(hostnames.map((h): x509.JsonGeneralName => ({ type: h.kind, value: h.value })));
}

/**
 * A PKCS#10 request for a public or enterprise CA, with every hostname in subjectAltName
 * (CAs ignore the CN for TLS). The key stays here; only the CSR leaves the appliance.
 */
export async function createCsr(options: CreateCsrOptions): Promise<CsrResult> {
  const hostnames = parseHostnames(options.hostnames, true);
  const keyPem = options.keyPem ?? (await generateKeyPair(options.algorithm ?? defaultKeyAlgorithm)).privateKeyPem;
  const privateKey = readPrivateKey(keyPem, { password: options.keyPassword });
  const signing = await importSigningKey(privateKey);
  const rsa = privateKey.asymmetricKeyType === 'rsa';
  const usages = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectName(options, hostnames),
    keys: signing.keys,
    signingAlgorithm: signing.signingAlgorithm,
    extensions: [sanExtension(hostnames), new x509.KeyUsagesExtension(usages, true), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])],
  });
  return {
    csrPem: encodePem('CERTIFICATE REQUEST', new Uint8Array(csr.rawData)),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    key: signing.description,
    hostnames,
  };
}

/** Parses a CSR and checks its self-signature: proof that the requester holds the key. */
export async function readCsr(csrPem: string): Promise<{ request: x509.Pkcs10CertificateRequest; info: CsrInfo }> {
  const block = parsePem(csrPem).find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
  if (!block) throw new CertError('csr_malformed', 'the text contains no "CERTIFICATE REQUEST" block');
  let request: x509.Pkcs10CertificateRequest;
  let valid: boolean;
  try {
    request = new x509.Pkcs10CertificateRequest(toArrayBuffer(block.der));
    valid = await request.verify();
  } catch (error) {
    throw new CertError('csr_malformed', `the certificate request cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if (!valid) throw new CertError('csr_malformed', 'the certificate request signature does not verify');
  const sans: string[] = [];
  const san = request.getExtension(sanOid);
  if (san) {
    for (const item of new x509.SubjectAlternativeNameExtension(san.rawData).names.items) {
      if (item.type === 'dns') sans.push(item.value.toLowerCase());
      else if (item.type === 'ip') sans.push(canonicalIp(item.value));
    }
  }
  const publicKey = createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' });
  return { request, info: { subject: request.subject, sans, key: describeKey(publicKey).text } };
}
