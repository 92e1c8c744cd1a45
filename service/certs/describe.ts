import { parseCertificates } from './bundle.js';
import { certificateInfo, type CertificateInfo } from './certificate.js';

/** Every certificate in a PEM/DER/PKCS#7 input, described in file order; for `consulate cert show`. */
export function describeCertificate(input: string | Uint8Array): CertificateInfo[] {
  return parseCertificates(input).map(certificateInfo);
}
