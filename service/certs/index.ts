/**
 * Certificate management for the federation and file-proxy listeners: keys and CSRs,
 * import of what a CA returns, validation reports, a private CA for air-gapped networks,
 * expiry policy and the on-disk store. docs/certificates.md describes the API.
 */
export { CertError, certErrorCodes, isCertError, isCertErrorCode, type CertErrorCode } from './errors.js';
export { defaultKeyAlgorithm, generateKeyPair, keyAlgorithms, isKeyAlgorithm, type GeneratedKey, type KeyAlgorithm } from './keys.js';
export { createCsr, readCsr, type CreateCsrOptions, type CsrInfo, type CsrResult, type SubjectOptions } from './csr.js';
export { importCertificateBundle, type BundleFormat, type ImportedBundle, type ImportOptions } from './bundle.js';
export { describeCertificate } from './describe.js';
export type { CertificateInfo } from './certificate.js';
export {
  validateCertificate,
  type CertCheck,
  type ChainEntry,
  type CheckId,
  type CheckSeverity,
  type ValidateOptions,
  type ValidationReport,
  type ValidationSummary,
} from './validate.js';
export { trustAnchorsFrom, type TrustAnchorSources } from './trust.js';
export { expiryState, type ExpiryState, type ExpiryStatus } from './expiry.js';
export {
  createPrivateCa,
  defaultCaValidityDays,
  defaultServerValidityDays,
  exportCaCertificatePem,
  issueServerCertificate,
  type CreatePrivateCaOptions,
  type IssuedCertificate,
  type IssueServerCertificateOptions,
  type PrivateCa,
} from './private-ca.js';
export {
  CertStore,
  certSlots,
  type CertMaterial,
  type CertPolicy,
  type CertSlot,
  type CertStoreOptions,
  type InstalledCertificate,
  type SlotStatus,
  type StoredMeta,
} from './store.js';
export { parsePem, encodePem, type PemBlock } from './pem.js';
export { parseHostname, dnsNameMatches, type Hostname } from './hostname.js';
