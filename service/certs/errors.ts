import { ConsulateError } from '../errors.js';

/**
 * Stable codes for everything the certificate library refuses. The admin API and the CLI
 * pass them through unchanged; docs/certificates.md explains each one to operators.
 */
export const certErrorCodes = {
  pem_malformed: 'The text is not valid PEM, or a PEM block does not contain what its label says.',
  der_malformed: 'The binary data is not a certificate, PKCS#7 or PKCS#12 structure.',
  format_unknown: 'The input is neither PEM, PKCS#7 nor PKCS#12.',
  bundle_empty: 'The input contains no certificate.',
  key_malformed: 'The private key cannot be read (unsupported format or damaged data).',
  key_missing: 'No private key was supplied or found in the bundle.',
  key_encrypted: 'The private key is encrypted and no password was given.',
  key_bad_password: 'The password for the encrypted private key is wrong.',
  key_ambiguous: 'The bundle contains more than one private key.',
  p12_bad_password: 'The PKCS#12 password is wrong.',
  p12_unsupported: 'The PKCS#12 file uses an encryption or integrity scheme that is not supported.',
  p12_malformed: 'The PKCS#12 file is damaged or not a PKCS#12 file.',
  p7_malformed: 'The PKCS#7 file is damaged or contains no certificates.',
  csr_malformed: 'The certificate signing request cannot be read or its signature is invalid.',
  key_mismatch: 'The private key does not belong to the certificate.',
  cert_expired: 'A certificate in the chain has expired.',
  cert_not_yet_valid: 'A certificate in the chain is not valid yet.',
  hostname_mismatch: 'The certificate does not cover a configured hostname.',
  chain_incomplete: 'An intermediate certificate is missing from the bundle.',
  chain_invalid: 'The chain is broken: a signature does not verify, or an issuer is not allowed to issue certificates.',
  untrusted_root: 'The chain ends at a root that is not in the trust store.',
  wrong_eku: 'The certificate is not allowed for TLS servers (extended key usage lacks serverAuth).',
  wrong_key_usage: 'The certificate key usage does not allow TLS server signatures.',
  ca_as_leaf: 'A CA certificate was offered as a server certificate.',
  self_signed: 'The server certificate is self-signed where a CA-issued one is required.',
  weak_key: 'A key in the chain is too small or of an unsupported type.',
  weak_signature: 'A certificate is signed with a broken hash (SHA-1 or MD5).',
  hostname_invalid: 'A hostname is neither a valid DNS name nor an IP address.',
  subject_invalid: 'A subject field (country, organisation, common name) is not acceptable.',
  ca_invalid: 'The private CA certificate or key cannot be used to issue certificates.',
  no_previous: 'There is no previous certificate to roll back to.',
  cert_missing: 'No certificate is installed in the slot.',
  ca_missing: 'There is no organisation CA yet (or not in the given directory).',
  ca_exists: 'An organisation CA already exists in the directory; it is never overwritten.',
  key_locked: 'A stored key is wrapped or sealed and cannot be opened here (no unwrap function, or another key-encryption key).',
  store_io: 'The certificate store directory cannot be read or written.',
  expiring_soon: 'The certificate (or an issuer) expires soon; renew it.',
} as const;

export type CertErrorCode = keyof typeof certErrorCodes;

export function isCertErrorCode(value: string): value is CertErrorCode {
  return Object.prototype.hasOwnProperty.call(certErrorCodes, value);
}

/** A certificate problem with a stable code and a one-line message meant for the operator. */
export class CertError extends ConsulateError {
  // `declare` keeps the parent's assignment: a class field here would reset it to undefined.
  declare readonly code: CertErrorCode;

  constructor(code: CertErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, { status: 422, ...options });
    this.name = 'CertError';
  }
}

export function isCertError(error: unknown): error is CertError {
  return error instanceof CertError;
}
