import { rootCertificates } from 'node:tls';

export interface TrustAnchorSources {
  /** Node's bundled Mozilla roots; on by default, off for strictly private deployments. */
  system?: boolean;
  /** The admin-supplied CA bundle for enterprise or air-gapped CAs (PEM, several certificates). */
  adminCaBundlePem?: string | undefined;
  /** A bundle pinned for one peer, when that peer's certificate comes from its own private CA. */
  peerBundlePem?: string | undefined;
}

/** The PEM list that `validateCertificate({ trustAnchors })` expects. */
export function trustAnchorsFrom(sources: TrustAnchorSources = {}): string[] {
  const anchors = sources.system === false ? [] : [...rootCertificates];
  if (sources.adminCaBundlePem?.trim()) anchors.push(sources.adminCaBundlePem);
  if (sources.peerBundlePem?.trim()) anchors.push(sources.peerBundlePem);
  return anchors;
}
