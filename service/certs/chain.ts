import { displayName, isSelfSigned, namesMatch, signedBy, type ParsedCertificate } from './certificate.js';
import type { CertErrorCode } from './errors.js';

export interface ChainProblem {
  code: Extract<CertErrorCode, 'chain_incomplete' | 'untrusted_root' | 'chain_invalid' | 'self_signed'>;
  message: string;
}

export interface ChainResult {
  /** From the leaf up to the last certificate that could be linked. */
  path: ParsedCertificate[];
  /** The last certificate of `path` is a trust anchor. */
  anchored: boolean;
  problem: ChainProblem | undefined;
}

const maxDepth = 10;

function dedupe(certs: readonly ParsedCertificate[]): ParsedCertificate[] {
  const seen = new Set<string>();
  return certs.filter((cert) => !seen.has(cert.fingerprint256) && seen.add(cert.fingerprint256));
}

/** Prefers trust anchors (shortest path) and issuers whose key id matches the authority key id. */
function rank(cert: ParsedCertificate, candidate: ParsedCertificate, anchors: Set<string>): number {
  let score = 0;
  if (anchors.has(candidate.fingerprint256)) score += 2;
  if (cert.authorityKeyId !== undefined && cert.authorityKeyId === candidate.subjectKeyId) score += 1;
  return score;
}

/**
 * Links `leaf` to a trust anchor by issuer name and a verified signature at every step.
 * This only builds the path; CA flags, key usage, path length and dates are checked by
 * the caller so that each problem gets its own message.
 */
export function buildChain(leaf: ParsedCertificate, intermediates: readonly ParsedCertificate[], trustAnchors: readonly ParsedCertificate[]): ChainResult {
  const anchorSet = new Set(trustAnchors.map((cert) => cert.fingerprint256));
  const pool = dedupe([...trustAnchors, ...intermediates]);
  const path: ParsedCertificate[] = [leaf];
  let current = leaf;
  for (let depth = 0; depth <= maxDepth; depth++) {
    if (anchorSet.has(current.fingerprint256)) return { path, anchored: true, problem: undefined };
    if (isSelfSigned(current)) {
      if (path.length === 1) {
        return {
          path,
          anchored: false,
          problem: { code: 'self_signed', message: `The server certificate "${current.subject}" is self-signed and not issued by a CA.` },
        };
      }
      return {
        path,
        anchored: false,
        problem: {
          code: 'untrusted_root',
          message: `The chain ends at the root "${current.subject}", which is not in the trust store (system roots or the configured CA bundles).`,
        },
      };
    }
    const candidates = pool.filter((candidate) => candidate.fingerprint256 !== current.fingerprint256 && namesMatch(current.issuerKey, candidate.subjectKey));
    if (candidates.length === 0) {
      return {
        path,
        anchored: false,
        problem: {
          code: 'chain_incomplete',
          message: `The issuer "${current.issuer}" of "${displayName(current)}" was not found in the bundle or the trust store; add the intermediate certificate to the bundle.`,
        },
      };
    }
    const verified = candidates.filter((candidate) => signedBy(current, candidate)).sort((a, b) => rank(current, b, anchorSet) - rank(current, a, anchorSet));
    const next = verified[0];
    if (!next) {
      return {
        path,
        anchored: false,
        problem: {
          code: 'chain_invalid',
          message: `The signature on "${displayName(current)}" does not verify with the key of its issuer "${current.issuer}".`,
        },
      };
    }
    if (path.some((cert) => cert.fingerprint256 === next.fingerprint256)) {
      return { path, anchored: false, problem: { code: 'chain_invalid', message: `The chain loops back to "${displayName(next)}".` } };
    }
    path.push(next);
    current = next;
  }
  return { path, anchored: false, problem: { code: 'chain_invalid', message: `The chain is longer than ${maxDepth} certificates.` } };
}

/**
 * Leaf first, then each issuer found in the same set, then anything unrelated. Files from
 * CAs and PKCS#12 exports come in either order; TLS wants leaf first.
 */
export function orderChain(certs: readonly ParsedCertificate[], leaf?: ParsedCertificate): ParsedCertificate[] {
  const unique = dedupe(certs);
  if (unique.length === 0) return [];
  const issues = (issuer: ParsedCertificate, cert: ParsedCertificate): boolean =>
    issuer.fingerprint256 !== cert.fingerprint256 && namesMatch(cert.issuerKey, issuer.subjectKey);
  const start =
    leaf ??
    unique.find((cert) => !unique.some((other) => issues(cert, other)) && cert.basicConstraints?.ca !== true) ??
    unique.find((cert) => !unique.some((other) => issues(cert, other))) ??
    (unique[0] as ParsedCertificate);
  const ordered = [start];
  let current = start;
  for (;;) {
    const issuer = unique.find((cert) => !ordered.includes(cert) && issues(cert, current) && signedBy(current, cert));
    if (!issuer) break;
    ordered.push(issuer);
    current = issuer;
  }
  return [...ordered, ...unique.filter((cert) => !ordered.includes(cert))];
}
