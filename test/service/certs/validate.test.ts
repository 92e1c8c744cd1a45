import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCertificate, type ValidationReport } from '../../../service/certs/index.js';
import { caDate, standardPki, type OpensslPki } from './openssl-pki.js';

const hostnames = ['fed.example.org', 'files.example.org'];
const day = 86_400_000;

let pki: OpensslPki;
let root: string;
let chain: string;

beforeAll(() => {
  pki = standardPki();
  root = pki.read('root.pem');
  chain = pki.read('leaf.pem') + pki.read('intermediate.pem');
});

afterAll(() => pki.cleanup());

function failures(report: ValidationReport): string[] {
  return report.checks.filter((check) => !check.ok && check.severity === 'error').map((check) => check.code ?? check.id);
}

function messageFor(report: ValidationReport, code: string): string {
  return report.checks.find((check) => check.code === code)?.message ?? '';
}

describe('validateCertificate with OpenSSL-made chains', () => {
  it('passes a good root → intermediate → leaf chain and summarises it', async () => {
    const report = await validateCertificate({ leafAndChain: chain, privateKey: pki.read('leaf.key'), hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual([]);
    expect(report.summary.ok).toBe(true);
    expect(report.summary.trusted).toBe(true);
    expect(report.summary.subject).toBe('O=Consulate Test, CN=fed.example.org');
    expect(report.summary.issuer).toContain('CN=Consulate Test Intermediate');
    expect(report.summary.sans).toEqual(['fed.example.org', 'files.example.org']);
    expect(report.summary.daysUntilExpiry).toBeGreaterThanOrEqual(88);
    expect(report.summary.daysUntilExpiry).toBeLessThanOrEqual(90);
    expect(report.summary.chain.map((entry) => [entry.role, entry.source])).toEqual([
      ['leaf', 'bundle'],
      ['intermediate', 'bundle'],
      ['root', 'trust-anchors'],
    ]);
    const fingerprint = pki.openssl(['x509', '-in', 'leaf.pem', '-noout', '-fingerprint', '-sha256']).trim().split('=')[1];
    expect(report.summary.fingerprintSha256).toBe(fingerprint);
    expect(report.chainPem).toBe(chain);
    for (const check of report.checks) expect(check.message).toMatch(/^[A-Z].*\.$/);
  });

  it('accepts the bundle in any order and finds the leaf', async () => {
    const reversed = pki.read('intermediate.pem') + pki.read('leaf.pem');
    const report = await validateCertificate({ leafAndChain: reversed, hostnames, trustAnchors: [root] });
    expect(report.summary.ok).toBe(true);
    expect(report.summary.subject).toContain('fed.example.org');
    expect(report.chainPem).toBe(chain);
  });

  it('reports an expired leaf with cert_expired, naming the certificate', async () => {
    const now = new Date();
    pki.openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=expired.example.org', '-out', 'expired.csr']);
    pki.signCsr('expired.csr', 'expired', 'intermediate', 'v3_leaf', {
      startDate: caDate(new Date(now.getTime() - 100 * day)),
      endDate: caDate(new Date(now.getTime() - 10 * day)),
    });
    const report = await validateCertificate({ leafAndChain: pki.read('expired.pem') + pki.read('intermediate.pem'), hostnames, trustAnchors: [root], now });
    expect(failures(report)).toEqual(['cert_expired']);
    expect(messageFor(report, 'cert_expired')).toMatch(/^The server certificate "expired\.example\.org" expired on .*, 10 days ago\.$/);
    expect(report.summary.daysUntilExpiry).toBeLessThan(0);
  });

  it('reports a not-yet-valid leaf with cert_not_yet_valid, distinct from expired', async () => {
    const now = new Date();
    pki.openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=future.example.org', '-out', 'future.csr']);
    pki.signCsr('future.csr', 'future', 'intermediate', 'v3_leaf', {
      startDate: caDate(new Date(now.getTime() + 5 * day)),
      endDate: caDate(new Date(now.getTime() + 90 * day)),
    });
    const report = await validateCertificate({ leafAndChain: pki.read('future.pem') + pki.read('intermediate.pem'), hostnames, trustAnchors: [root], now });
    expect(failures(report)).toEqual(['cert_not_yet_valid']);
    expect(messageFor(report, 'cert_not_yet_valid')).toContain('"future.example.org" is not valid until');
  });

  it('reports an expired intermediate by name', async () => {
    const now = new Date(Date.now() + 2000 * day);
    const report = await validateCertificate({ leafAndChain: chain, hostnames, trustAnchors: [root], now });
    const messages = report.checks.filter((check) => check.code === 'cert_expired').map((check) => check.message);
    expect(messages.some((message) => message.startsWith('The intermediate certificate "Consulate Test Intermediate" expired'))).toBe(true);
  });

  it('reports a hostname the SAN does not cover', async () => {
    pki.issue('wrong-san', 'fed.example.org', 'intermediate', 'v3_leaf_wrong_san');
    const report = await validateCertificate({ leafAndChain: pki.read('wrong-san.pem') + pki.read('intermediate.pem'), hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual(['hostname_mismatch']);
    expect(messageFor(report, 'hostname_mismatch')).toBe(
      'The certificate does not cover files.example.org; its subjectAltNames are fed.example.org and other.example.net.',
    );
  });

  it('reports a missing intermediate, naming the issuer it could not find', async () => {
    const report = await validateCertificate({ leafAndChain: pki.read('leaf.pem'), hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual(['chain_incomplete']);
    expect(messageFor(report, 'chain_incomplete')).toContain(
      'The issuer "O=Consulate Test, CN=Consulate Test Intermediate" of "fed.example.org" was not found in the bundle or the trust store',
    );
    expect(report.summary.trusted).toBe(false);
  });

  it('reports a chain to a root that is not trusted', async () => {
    const report = await validateCertificate({ leafAndChain: chain + root, hostnames, trustAnchors: [] });
    expect(failures(report)).toEqual(['untrusted_root']);
    expect(messageFor(report, 'untrusted_root')).toContain('"O=Consulate Test, CN=Consulate Test Root"');
  });

  it('reports clientAuth-only EKU as wrong_eku', async () => {
    pki.issue('client', 'fed.example.org', 'intermediate', 'v3_leaf_client');
    const report = await validateCertificate({ leafAndChain: pki.read('client.pem') + pki.read('intermediate.pem'), hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual(['wrong_eku']);
    expect(messageFor(report, 'wrong_eku')).toContain('clientAuth, not serverAuth');
  });

  it('reports a private key of another certificate as key_mismatch', async () => {
    const report = await validateCertificate({ leafAndChain: chain, privateKey: pki.read('intermediate.key'), hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual(['key_mismatch']);
    expect(report.summary.subject).toContain('fed.example.org');
  });

  it('reports a CA certificate offered as the server certificate', async () => {
    const report = await validateCertificate({ leafAndChain: pki.read('intermediate.pem'), privateKey: pki.read('intermediate.key'), trustAnchors: [root] });
    // A CA certificate also lacks digitalSignature; both are true, ca_as_leaf is the one to fix.
    expect(failures(report)).toEqual(['ca_as_leaf', 'wrong_key_usage']);
    expect(messageFor(report, 'ca_as_leaf')).toContain('a CA certificate offered as a server certificate');
  });

  it('reports a self-signed leaf, and only warns when self-signed is allowed', async () => {
    const selfSigned = pki.selfSigned('self', 'fed.example.org', 'v3_leaf_self', 'ec', 30);
    const strict = await validateCertificate({ leafAndChain: selfSigned, privateKey: pki.read('self.key'), hostnames, trustAnchors: [root] });
    expect(failures(strict)).toEqual(['self_signed']);
    const demo = await validateCertificate({
      leafAndChain: selfSigned,
      privateKey: pki.read('self.key'),
      hostnames,
      trustAnchors: [root],
      allowSelfSigned: true,
    });
    expect(demo.summary.ok).toBe(true);
    expect(demo.checks.find((check) => check.id === 'self_signed')).toMatchObject({ ok: false, severity: 'warning' });
  });

  it('reports a SHA-1 signature as weak_signature', async () => {
    pki.issue('sha1', 'fed.example.org', 'intermediate', 'v3_leaf', { digest: 'sha1' });
    const report = await validateCertificate({ leafAndChain: pki.read('sha1.pem') + pki.read('intermediate.pem'), hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual(['weak_signature']);
    expect(messageFor(report, 'weak_signature')).toContain('ecdsa-with-SHA1');
  });

  it('reports an RSA 1024 key as weak_key', async () => {
    pki.issue('rsa1024', 'fed.example.org', 'intermediate', 'v3_leaf_rsa', { keyType: 'rsa1024' });
    const report = await validateCertificate({
      leafAndChain: pki.read('rsa1024.pem') + pki.read('intermediate.pem'),
      privateKey: pki.read('rsa1024.key'),
      hostnames,
      trustAnchors: [root],
    });
    expect(failures(report)).toEqual(['weak_key']);
    expect(messageFor(report, 'weak_key')).toContain('1024-bit RSA key');
  });

  it('enforces the pathlen of an issuer (X509ChainBuilder does not)', async () => {
    // The intermediate has pathlen 0, so a second CA below it must not issue servers.
    pki.issue('sub-ca', 'Consulate Test Sub CA', 'intermediate', 'v3_intermediate_open', { days: 365 });
    pki.issue('deep', 'fed.example.org', 'sub-ca', 'v3_leaf');
    const bundle = pki.read('deep.pem') + pki.read('sub-ca.pem') + pki.read('intermediate.pem');
    const report = await validateCertificate({ leafAndChain: bundle, hostnames, trustAnchors: [root] });
    expect(failures(report)).toEqual(['chain_invalid']);
    expect(messageFor(report, 'chain_invalid')).toContain('pathlen 0');
  });

  it('refuses an end-entity certificate used as an issuer', async () => {
    pki.openssl(['req', '-new', '-key', 'rsa1024.key', '-subj', '/CN=child.example.org', '-out', 'child.csr']);
    pki.openssl([
      'x509',
      '-req',
      '-in',
      'child.csr',
      '-CA',
      'leaf.pem',
      '-CAkey',
      'leaf.key',
      '-set_serial',
      '7',
      '-days',
      '30',
      '-extfile',
      'openssl.cnf',
      '-extensions',
      'v3_leaf',
      '-out',
      'child.pem',
    ]);
    const report = await validateCertificate({ leafAndChain: pki.read('child.pem') + chain, trustAnchors: [root] });
    expect(messageFor(report, 'chain_invalid')).toContain('is not a CA certificate');
  });

  it('warns when the certificate is in its last third of life', async () => {
    const now = new Date(Date.now() + 70 * day);
    const report = await validateCertificate({ leafAndChain: chain, hostnames, trustAnchors: [root], now });
    expect(report.summary.ok).toBe(true);
    expect(report.summary.expiry.state).toBe('warning');
    expect(report.checks.find((check) => check.id === 'expiry')).toMatchObject({ ok: false, severity: 'warning', code: 'expiring_soon' });
  });
});
