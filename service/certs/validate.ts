import { X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { parseCertificates } from './bundle.js';
import { displayName, ekuAny, ekuServerAuth, isSelfSigned, namesMatch, parseCertificateDer, type ParsedCertificate } from './certificate.js';
import { buildChain, orderChain } from './chain.js';
import { CertError, type CertErrorCode } from './errors.js';
import { expiryState, type ExpiryStatus } from './expiry.js';
import { parseHostname, sansCover, type Hostname } from './hostname.js';
import { readPrivateKey } from './keys.js';
import { parsePem } from './pem.js';
import { trustAnchorsFrom } from './trust.js';
import { x509 } from './x509.js';

export type CheckSeverity = 'error' | 'warning' | 'info';

export type CheckId =
  | 'key_match'
  | 'chain'
  | 'issuers'
  | 'validity'
  | 'leaf_not_ca'
  | 'self_signed'
  | 'key_usage'
  | 'extended_key_usage'
  | 'hostnames'
  | 'key_strength'
  | 'signature_algorithm'
  | 'expiry'
  | 'extra_certificates';

export interface CertCheck {
  id: CheckId;
  ok: boolean;
  /** `info` for passed checks; a failed `error` makes the whole report fail, a `warning` does not. */
  severity: CheckSeverity;
  /** One sentence for the operator. */
  message: string;
  /** Set on failed checks; the same codes `CertError` uses. */
  code?: CertErrorCode | undefined;
}

export interface ChainEntry {
  role: 'leaf' | 'intermediate' | 'root';
  subject: string;
  issuer: string;
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  /** Where the certificate came from: the offered bundle or the trust anchors. */
  source: 'bundle' | 'trust-anchors';
}

export interface ValidationSummary {
  /** No check failed with severity `error`. */
  ok: boolean;
  subject: string;
  issuer: string;
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  /** Whole days, rounded down; negative once expired. */
  daysUntilExpiry: number;
  expiry: ExpiryStatus;
  fingerprintSha256: string;
  /** The chain ends at a trust anchor. */
  trusted: boolean;
  chain: ChainEntry[];
}

export interface ValidationReport {
  checks: CertCheck[];
  summary: ValidationSummary;
  /** What a TLS server should send: leaf first, then the bundle's intermediates on the path. */
  chainPem: string;
}

export interface ValidateOptions {
  /** PEM bundle (or several PEM texts), leaf first or in any order; DER and PKCS#7 also work. */
  leafAndChain: string | Uint8Array | readonly string[];
  /** PEM private key; without it the key-match check is skipped. */
  privateKey?: string | undefined;
  privateKeyPassword?: string | undefined;
  /** Every hostname and IP address the listener is reached by. */
  hostnames?: readonly string[] | undefined;
  /**
   * PEM texts, each with one or more CA certificates; see `trustAnchorsFrom`. Left out, the
   * system roots are used; an empty list trusts nothing (a private-CA-only deployment).
   */
  trustAnchors?: readonly string[] | undefined;
  now?: Date | undefined;
  /** Demo setups: a self-signed leaf is a warning instead of an error. */
  allowSelfSigned?: boolean | undefined;
}

interface AnchorEntry {
  der: Uint8Array;
  /** OpenSSL's rendering of the names, case- and space-folded: cheap to get for every anchor. */
  subject: string;
  issuer: string;
  parsed?: ParsedCertificate;
}

const anchorCache = new Map<string, AnchorEntry[]>();
const anchorCacheLimit = 1000;

function foldedName(name: string): string {
  return name.toLowerCase().replace(/\s+/g, ' ').trim();
}

function anchorError(error: unknown): CertError {
  const reason = error instanceof CertError ? error.message : String((error as Error).message ?? error);
  return new CertError(error instanceof CertError ? error.code : 'der_malformed', `a trust anchor bundle cannot be read: ${reason}`, { cause: error });
}

/**
 * Trust stores are large (the system roots are about 150 certificates) and fully decoding
 * one costs about 10 ms, so each anchor is first only named with OpenSSL's native parser;
 * the full decode happens for the few whose name can appear in a chain. Cached per PEM text.
 */
function anchorEntries(pems: readonly string[]): AnchorEntry[] {
  const out: AnchorEntry[] = [];
  for (const pem of pems) {
    let entries = anchorCache.get(pem);
    if (!entries) {
      try {
        const blocks = parsePem(pem);
        const simple = blocks.length > 0 && blocks.every((block) => block.label === 'CERTIFICATE' || block.label === 'X509 CERTIFICATE');
        entries = simple
          ? blocks.map((block) => {
              const node = new NodeX509Certificate(Buffer.from(block.der));
              return { der: block.der, subject: foldedName(node.subject), issuer: foldedName(node.issuer) };
            })
          : parseCertificates(pem).map((cert) => ({
              der: cert.der,
              subject: foldedName(cert.node.subject),
              issuer: foldedName(cert.node.issuer),
              parsed: cert,
            }));
      } catch (error) {
        throw anchorError(error);
      }
      if (entries.length === 0) throw anchorError(new CertError('bundle_empty', 'it contains no certificate'));
      if (anchorCache.size >= anchorCacheLimit) anchorCache.clear();
      anchorCache.set(pem, entries);
    }
    out.push(...entries);
  }
  return out;
}

/** The anchors whose subject is the issuer of a bundle certificate, or of such an anchor (cross-signed roots). */
function relevantAnchors(pems: readonly string[], bundle: readonly ParsedCertificate[]): ParsedCertificate[] {
  const entries = anchorEntries(pems);
  const wanted = new Set(bundle.flatMap((cert) => [foldedName(cert.node.issuer), foldedName(cert.node.subject)]));
  const chosen = new Set<AnchorEntry>();
  for (let grew = true; grew;) {
    grew = false;
    for (const entry of entries) {
      if (chosen.has(entry) || !wanted.has(entry.subject)) continue;
      chosen.add(entry);
      wanted.add(entry.issuer);
      grew = true;
    }
  }
  return [...chosen].map((entry) => {
    if (!entry.parsed) {
      try {
        entry.parsed = parseCertificateDer(entry.der);
      } catch (error) {
        throw anchorError(error);
      }
    }
    return entry.parsed;
  });
}

const ekuNames: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

const goodCurves = new Set(['P-256', 'P-384', 'P-521']);

function isoDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function days(ms: number): number {
  return Math.floor(Math.abs(ms) / 86_400_000);
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function roleOf(index: number, path: readonly ParsedCertificate[], anchored: boolean): ChainEntry['role'] {
  if (index === 0) return 'leaf';
  if (index === path.length - 1 && (anchored || isSelfSigned(path[index] as ParsedCertificate))) return 'root';
  return 'intermediate';
}

function describeRole(role: ChainEntry['role']): string {
  return role === 'leaf' ? 'server certificate' : `${role} certificate`;
}

/**
 * Everything an operator needs to know before a certificate goes live, as a list of
 * checks with one sentence each. Throws only when the input cannot be read at all.
 */
export async function validateCertificate(options: ValidateOptions): Promise<ValidationReport> {
  const now = options.now ?? new Date();
  const input = Array.isArray(options.leafAndChain) ? options.leafAndChain.join('\n') : (options.leafAndChain as string | Uint8Array);
  const bundle = parseCertificates(input);
  const anchors = relevantAnchors(options.trustAnchors ?? trustAnchorsFrom(), bundle);
  const checks: CertCheck[] = [];
  const pass = (id: CheckId, message: string): void => void checks.push({ id, ok: true, severity: 'info', message });
  const fail = (id: CheckId, code: CertErrorCode, message: string, severity: CheckSeverity = 'error'): void =>
    void checks.push({ id, ok: false, severity, message, code });

  let key: KeyObject | undefined;
  let keyProblem: CertError | undefined;
  if (options.privateKey !== undefined) {
    try {
      key = readPrivateKey(options.privateKey, { password: options.privateKeyPassword });
    } catch (error) {
      if (!(error instanceof CertError)) throw error;
      keyProblem = error;
    }
  }
  const matchesKey = (cert: ParsedCertificate): boolean => {
    try {
      return key !== undefined && cert.node.checkPrivateKey(key);
    } catch {
      return false;
    }
  };
  // The structure decides which certificate is the leaf; the key only breaks a tie, so a key
  // belonging to the intermediate is reported as a mismatch instead of promoting the intermediate.
  const endOfChain = bundle.filter((cert) => !bundle.some((other) => other !== cert && !other.selfIssued && namesMatch(other.issuerKey, cert.subjectKey)));
  const hint = endOfChain.length > 1 ? endOfChain.find(matchesKey) : undefined;
  const leaf = orderChain(bundle, hint)[0] as ParsedCertificate;
  const leafName = `"${leaf.subject}"`;

  // Key match.
  if (keyProblem) fail('key_match', keyProblem.code, `The private key cannot be used: ${keyProblem.message}.`);
  else if (key === undefined) pass('key_match', 'No private key was given, so the key match was not checked.');
  else if (matchesKey(leaf)) pass('key_match', 'The private key belongs to the certificate.');
  else fail('key_match', 'key_mismatch', `The private key does not belong to the certificate ${leafName}.`);

  // Chain.
  const rest = bundle.filter((cert) => cert !== leaf);
  const chain = buildChain(leaf, rest, anchors);
  const { path, anchored } = chain;
  const anchorPrints = new Set(anchors.map((cert) => cert.fingerprint256));
  const bundlePrints = new Set(bundle.map((cert) => cert.fingerprint256));
  const selfSigned = isSelfSigned(leaf);
  const last = path[path.length - 1] as ParsedCertificate;
  if (selfSigned) {
    if (options.allowSelfSigned)
      fail('self_signed', 'self_signed', `The certificate ${leafName} is self-signed; peers must pin it or add it to their CA bundle.`, 'warning');
    else fail('self_signed', 'self_signed', `The certificate ${leafName} is self-signed, but a certificate issued by a trusted CA is required.`);
  } else {
    pass('self_signed', 'The certificate is issued by a CA, not self-signed.');
    if (chain.problem) fail('chain', chain.problem.code, chain.problem.message);
    else pass('chain', `The chain builds to the trusted root "${last.subject}".`);
  }

  // Issuer constraints: the chain builder only links signatures.
  const issuerProblems: string[] = [];
  for (let index = 1; index < path.length; index++) {
    const issuer = path[index] as ParsedCertificate;
    const child = path[index - 1] as ParsedCertificate;
    const isAnchor = anchorPrints.has(issuer.fingerprint256);
    const name = `"${displayName(issuer)}"`;
    // Version 1 roots have no extensions at all; the trust store vouches for them.
    if (issuer.basicConstraints?.ca !== true && !(isAnchor && issuer.basicConstraints === undefined)) {
      issuerProblems.push(`${name} is not a CA certificate (basicConstraints CA:FALSE or missing), so it cannot issue "${displayName(child)}".`);
    }
    if (issuer.keyUsage !== undefined && (issuer.keyUsage & x509.KeyUsageFlags.keyCertSign) === 0) {
      issuerProblems.push(`${name} lacks the keyCertSign key usage, so it cannot issue certificates.`);
    }
    const below = path.slice(1, index).filter((cert) => !cert.selfIssued).length;
    const limit = issuer.basicConstraints?.pathLength;
    if (limit !== undefined && below > limit) {
      issuerProblems.push(`${name} allows ${limit} intermediate certificate${limit === 1 ? '' : 's'} below it (pathlen ${limit}) but the chain has ${below}.`);
    }
  }
  if (issuerProblems.length > 0) for (const problem of issuerProblems) fail('issuers', 'chain_invalid', `The issuer ${problem}`);
  else if (path.length > 1) pass('issuers', 'Every issuer in the chain is a CA allowed to sign certificates.');

  // Validity periods, naming each certificate that is out of its period.
  let validityProblems = 0;
  path.forEach((cert, index) => {
    const what = `The ${describeRole(roleOf(index, path, anchored))} "${displayName(cert)}"`;
    if (cert.notBefore.getTime() > now.getTime()) {
      validityProblems++;
      fail(
        'validity',
        'cert_not_yet_valid',
        `${what} is not valid until ${isoDate(cert.notBefore)} (check the clock, or wait ${days(cert.notBefore.getTime() - now.getTime())} days).`,
      );
    } else if (cert.notAfter.getTime() < now.getTime()) {
      validityProblems++;
      fail('validity', 'cert_expired', `${what} expired on ${isoDate(cert.notAfter)}, ${days(now.getTime() - cert.notAfter.getTime())} days ago.`);
    }
  });
  if (validityProblems === 0)
    pass(
      'validity',
      path.length === 1 ? 'The certificate is within its validity period.' : `All ${path.length} certificates in the chain are within their validity period.`,
    );

  // What the leaf may be used for.
  if (leaf.basicConstraints?.ca) fail('leaf_not_ca', 'ca_as_leaf', `The certificate ${leafName} is a CA certificate offered as a server certificate.`);
  else pass('leaf_not_ca', 'The certificate is an end-entity certificate, not a CA.');

  const isRsa = leaf.key.type === 'rsa' || leaf.key.type === 'rsa-pss';
  if (leaf.keyUsage === undefined) {
    pass('key_usage', 'The certificate has no key usage restriction.');
  } else if ((leaf.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) {
    fail('key_usage', 'wrong_key_usage', 'The certificate key usage lacks digitalSignature, which TLS servers need to sign the handshake.');
  } else if (isRsa && (leaf.keyUsage & x509.KeyUsageFlags.keyEncipherment) === 0) {
    fail(
      'key_usage',
      'wrong_key_usage',
      'The RSA certificate key usage lacks keyEncipherment, so old TLS 1.2 clients using RSA key exchange will fail.',
      'warning',
    );
  } else {
    pass('key_usage', 'The certificate key usage allows TLS server signatures.');
  }

  if (leaf.extendedKeyUsage === undefined) {
    pass('extended_key_usage', 'The certificate has no extended key usage restriction.');
  } else if (leaf.extendedKeyUsage.includes(ekuServerAuth) || leaf.extendedKeyUsage.includes(ekuAny)) {
    pass('extended_key_usage', 'The certificate is allowed for TLS servers (serverAuth).');
  } else {
    const usages = leaf.extendedKeyUsage.map((oid) => ekuNames[oid] ?? oid);
    fail('extended_key_usage', 'wrong_eku', `The certificate is not allowed for TLS servers: its extended key usage is ${list(usages)}, not serverAuth.`);
  }

  // Hostnames.
  const hostnames: Hostname[] = [];
  const invalid: string[] = [];
  for (const name of options.hostnames ?? []) {
    try {
      hostnames.push(parseHostname(name));
    } catch {
      invalid.push(name);
    }
  }
  const covered = [...leaf.sans.dns, ...leaf.sans.ip];
  const missing = hostnames.filter((hostname) => !sansCover(leaf.sans, hostname)).map((hostname) => hostname.value);
  if (invalid.length > 0) {
    fail(
      'hostnames',
      'hostname_invalid',
      `The configured hostname${invalid.length > 1 ? 's' : ''} ${list(invalid.map((n) => `"${n}"`))} ${invalid.length > 1 ? 'are' : 'is'} not valid.`,
    );
  } else if (hostnames.length === 0) {
    pass('hostnames', 'No hostnames are configured, so hostname coverage was not checked.');
  } else if (!leaf.hasSanExtension) {
    fail(
      'hostnames',
      'hostname_mismatch',
      `The certificate has no subjectAltName extension; TLS clients ignore the Common Name, so it covers none of ${list(hostnames.map((h) => h.value))}.`,
    );
  } else if (missing.length > 0) {
    fail('hostnames', 'hostname_mismatch', `The certificate does not cover ${list(missing)}; its subjectAltNames are ${list(covered) || 'empty'}.`);
  } else {
    pass('hostnames', `The certificate covers ${list(hostnames.map((h) => h.value))}.`);
  }

  // Key sizes and signature hashes across the chain.
  let keyProblems = 0;
  path.forEach((cert, index) => {
    const what = `The ${describeRole(roleOf(index, path, anchored))} "${displayName(cert)}"`;
    const k = cert.key;
    if ((k.type === 'rsa' || k.type === 'rsa-pss') && (k.bits ?? 0) < 2048) {
      keyProblems++;
      fail('key_strength', 'weak_key', `${what} uses a ${k.bits ?? 'unknown'}-bit RSA key; at least 2048 bits are required.`);
    } else if (k.type === 'ec' && !goodCurves.has(k.curve ?? '')) {
      keyProblems++;
      fail('key_strength', 'weak_key', `${what} uses the elliptic curve ${k.curve ?? 'unknown'}; TLS clients accept only P-256, P-384 and P-521.`);
    } else if (k.type === 'dsa' || k.type === 'other') {
      keyProblems++;
      fail('key_strength', 'weak_key', `${what} uses a ${k.text} key, which TLS clients no longer accept.`);
    }
  });
  if (keyProblems === 0) pass('key_strength', `The server key (${leaf.key.text}) and every key in the chain are strong enough.`);

  let signatureProblems = 0;
  path.forEach((cert, index) => {
    // A root's signature on itself is never checked by clients, so its hash does not matter.
    if (index > 0 && isSelfSigned(cert)) return;
    if (cert.signatureAlgorithm.weak) {
      signatureProblems++;
      const what = `The ${describeRole(roleOf(index, path, anchored))} "${displayName(cert)}"`;
      fail(
        'signature_algorithm',
        'weak_signature',
        `${what} is signed with ${cert.signatureAlgorithm.name}; SHA-1 and MD5 signatures are rejected by TLS clients.`,
      );
    }
  });
  if (signatureProblems === 0) pass('signature_algorithm', `The certificate is signed with ${leaf.signatureAlgorithm.name}.`);

  // Expiry planning.
  const expiry = expiryState(leaf.notBefore, leaf.notAfter, now);
  const daysLeft = Math.floor(expiry.secondsToExpiry / 86_400);
  if (expiry.state === 'ok') pass('expiry', `The certificate expires on ${isoDate(leaf.notAfter)}, in ${daysLeft} days.`);
  else if (expiry.state === 'warning')
    fail('expiry', 'expiring_soon', `The certificate expires on ${isoDate(leaf.notAfter)}, in ${daysLeft} days; plan its renewal.`, 'warning');
  else if (expiry.state === 'critical')
    fail('expiry', 'expiring_soon', `The certificate expires in ${daysLeft} days, on ${isoDate(leaf.notAfter)}; renew it now.`, 'warning');
  const earlier = path.slice(1).find((cert) => cert.notAfter.getTime() < leaf.notAfter.getTime() && cert.notAfter.getTime() > now.getTime());
  if (earlier)
    fail(
      'expiry',
      'expiring_soon',
      `The issuer "${displayName(earlier)}" expires on ${isoDate(earlier.notAfter)}, before the server certificate; the chain stops working then.`,
      'warning',
    );

  const onPath = new Set(path.map((cert) => cert.fingerprint256));
  const extras = bundle.filter((cert) => !onPath.has(cert.fingerprint256));
  if (extras.length > 0) {
    pass(
      'extra_certificates',
      `The bundle has ${extras.length} certificate${extras.length > 1 ? 's' : ''} not in the chain (${list(extras.map((cert) => `"${displayName(cert)}"`))}); ${extras.length > 1 ? 'they' : 'it'} will not be served.`,
    );
  }

  const served = path.filter((cert, index) => bundlePrints.has(cert.fingerprint256) && (index === 0 || !isSelfSigned(cert)));
  return {
    checks,
    chainPem: served.map((cert) => cert.pem).join(''),
    summary: {
      ok: !checks.some((check) => !check.ok && check.severity === 'error'),
      subject: leaf.subject,
      issuer: leaf.issuer,
      sans: covered,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      daysUntilExpiry: daysLeft,
      expiry,
      fingerprintSha256: leaf.fingerprint256,
      trusted: anchored,
      chain: path.map((cert, index) => ({
        role: roleOf(index, path, anchored),
        subject: cert.subject,
        issuer: cert.issuer,
        fingerprintSha256: cert.fingerprint256,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        source: bundlePrints.has(cert.fingerprint256) ? 'bundle' : 'trust-anchors',
      })),
    },
  };
}

/** The first blocking failure as an error, for callers that refuse instead of reporting. */
export function firstError(report: ValidationReport): CertError | undefined {
  const check = report.checks.find((c) => !c.ok && c.severity === 'error');
  if (!check) return undefined;
  return new CertError(check.code ?? 'chain_invalid', check.message, { details: { checks: report.checks } });
}
