import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertError, importCertificateBundle, validateCertificate } from '../../../service/certs/index.js';
import { standardPki, type OpensslPki } from './openssl-pki.js';

const hostnames = ['fed.example.org', 'files.example.org'];

let pki: OpensslPki;
let leaf: string;
let intermediate: string;
let root: string;

beforeAll(() => {
  pki = standardPki();
  leaf = pki.read('leaf.pem');
  intermediate = pki.read('intermediate.pem');
  root = pki.read('root.pem');
});

afterAll(() => pki.cleanup());

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CertError);
  expect((error as CertError).code).toBe(code);
}

describe('importCertificateBundle', () => {
  it('reads a PEM bundle with the key in the same file, in any order, leaf first out', async () => {
    const bundle = `${pki.read('leaf.key')}\nBag Attributes: junk OpenSSL prints\n${intermediate}${leaf}`;
    const imported = await importCertificateBundle(bundle);
    expect(imported.format).toBe('pem');
    expect(imported.leaf.subject).toContain('CN=fed.example.org');
    expect(imported.chain.map((c) => c.subject)).toEqual(['O=Consulate Test, CN=fed.example.org', 'O=Consulate Test, CN=Consulate Test Intermediate']);
    expect(imported.certChainPem).toBe(leaf + intermediate);
    expect(imported.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const report = await validateCertificate({ leafAndChain: imported.certChainPem, privateKey: imported.keyPem, hostnames, trustAnchors: [root] });
    expect(report.summary.ok).toBe(true);
  });

  it('reads an encrypted PEM key with its password, and refuses a wrong one with key_bad_password', async () => {
    pki.openssl(['pkey', '-in', 'leaf.key', '-aes256', '-passout', 'pass:pem-secret', '-out', 'leaf-enc.key']);
    const bundle = leaf + intermediate + pki.read('leaf-enc.key');
    const imported = await importCertificateBundle(bundle, { password: 'pem-secret' });
    expect(imported.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    await expectCode(importCertificateBundle(bundle, { password: 'nope' }), 'key_bad_password');
    await expectCode(importCertificateBundle(bundle), 'key_encrypted');
  });

  it('reads a PKCS#12 made by `openssl pkcs12 -export` (OpenSSL 3 default: PBES2, AES-256-CBC, SHA-256 MAC)', async () => {
    pki.openssl([
      'pkcs12',
      '-export',
      '-in',
      'leaf.pem',
      '-inkey',
      'leaf.key',
      '-certfile',
      'intermediate.pem',
      '-passout',
      'pass:correct horse',
      '-out',
      'default.p12',
    ]);
    expect(pki.openssl(['pkcs12', '-in', 'default.p12', '-info', '-noout', '-passin', 'pass:correct horse'])).toBe('');
    const imported = await importCertificateBundle(pki.bytes('default.p12'), { password: 'correct horse' });
    expect(imported.format).toBe('pkcs12');
    expect(imported.certChainPem).toBe(leaf + intermediate);
    const report = await validateCertificate({ leafAndChain: imported.certChainPem, privateKey: imported.keyPem, hostnames, trustAnchors: [root] });
    expect(report.summary.ok).toBe(true);
  });

  it('refuses a wrong PKCS#12 password with p12_bad_password, not a parse error', async () => {
    await expectCode(importCertificateBundle(pki.bytes('default.p12'), { password: 'wrong horse' }), 'p12_bad_password');
    await expectCode(importCertificateBundle(pki.bytes('default.p12')), 'p12_bad_password');
  });

  it('reads legacy PKCS#12 files: RC2-40 and 3DES (`-legacy`), 3DES with a SHA-1 MAC, and no MAC', async () => {
    pki.openssl([
      'pkcs12',
      '-export',
      '-legacy',
      '-in',
      'leaf.pem',
      '-inkey',
      'leaf.key',
      '-certfile',
      'intermediate.pem',
      '-passout',
      'pass:legacy',
      '-out',
      'legacy.p12',
    ]);
    pki.openssl([
      'pkcs12',
      '-export',
      '-in',
      'leaf.pem',
      '-inkey',
      'leaf.key',
      '-keypbe',
      'PBE-SHA1-3DES',
      '-certpbe',
      'PBE-SHA1-3DES',
      '-macalg',
      'sha1',
      '-passout',
      'pass:legacy',
      '-out',
      'des.p12',
    ]);
    pki.openssl(['pkcs12', '-export', '-in', 'leaf.pem', '-inkey', 'leaf.key', '-nomac', '-passout', 'pass:legacy', '-out', 'nomac.p12']);
    for (const file of ['legacy.p12', 'des.p12', 'nomac.p12']) {
      const imported = await importCertificateBundle(pki.bytes(file), { password: 'legacy' });
      expect(imported.leaf.subject, file).toContain('fed.example.org');
      expect(imported.keyPem, file).toBeDefined();
      await expectCode(importCertificateBundle(pki.bytes(file), { password: 'wrong' }), 'p12_bad_password');
    }
  });

  it('calls a wrong password of a PKCS#12 without a MAC a wrong password, also when the padding happens to check out', async () => {
    // fixtures/nomac.p12: `openssl pkcs12 -export -nomac -passout pass:right`. About one wrong
    // password in 256 decrypts it to valid padding; these two were found to, for this file.
    const file = new Uint8Array(readFileSync(new URL('./fixtures/nomac.p12', import.meta.url)));
    expect((await importCertificateBundle(file, { password: 'right' })).leaf.subject).toContain('nomac.example');
    for (const lucky of ['wrong-335', 'wrong-451']) await expectCode(importCertificateBundle(file, { password: lucky }), 'p12_bad_password');
  });

  it('reads a PKCS#12 with an empty password', async () => {
    pki.openssl(['pkcs12', '-export', '-in', 'leaf.pem', '-inkey', 'leaf.key', '-passout', 'pass:', '-out', 'empty.p12']);
    const imported = await importCertificateBundle(pki.bytes('empty.p12'), { password: '' });
    expect(imported.keyPem).toBeDefined();
  });

  it('reads a .p7b from `openssl crl2pkcs7`, PEM and DER', async () => {
    pki.openssl(['crl2pkcs7', '-nocrl', '-certfile', 'intermediate.pem', '-certfile', 'leaf.pem', '-out', 'chain.p7b']);
    pki.openssl(['crl2pkcs7', '-nocrl', '-certfile', 'intermediate.pem', '-certfile', 'leaf.pem', '-outform', 'DER', '-out', 'chain-der.p7b']);
    const fromPem = await importCertificateBundle(pki.read('chain.p7b'));
    expect(pki.read('chain.p7b')).toContain('-----BEGIN PKCS7-----');
    expect(fromPem.format).toBe('pkcs7');
    expect(fromPem.certChainPem).toBe(leaf + intermediate);
    expect(fromPem.keyPem).toBeUndefined();
    const fromDer = await importCertificateBundle(pki.bytes('chain-der.p7b'));
    expect(fromDer.format).toBe('pkcs7');
    expect(fromDer.certChainPem).toBe(leaf + intermediate);
    const withKey = await importCertificateBundle(pki.read('chain.p7b'), { keyPem: pki.read('leaf.key') });
    const report = await validateCertificate({ leafAndChain: withKey.certChainPem, privateKey: withKey.keyPem, hostnames, trustAnchors: [root] });
    expect(report.summary.ok).toBe(true);
  });

  it('reads a single DER certificate, and a PEM file handed over as bytes', async () => {
    pki.openssl(['x509', '-in', 'leaf.pem', '-outform', 'DER', '-out', 'leaf.der']);
    expect((await importCertificateBundle(pki.bytes('leaf.der'))).format).toBe('der');
    expect((await importCertificateBundle(pki.bytes('leaf.pem'))).certChainPem).toBe(leaf);
  });

  it('names damaged input with a specific code', async () => {
    await expectCode(importCertificateBundle('hello'), 'pem_malformed');
    await expectCode(importCertificateBundle(leaf.replace(/\n-----END CERTIFICATE-----\n$/, '')), 'pem_malformed');
    await expectCode(importCertificateBundle(pki.read('leaf.key')), 'bundle_empty');
    await expectCode(importCertificateBundle(new Uint8Array([1, 2, 3])), 'format_unknown');
    const truncated = pki.bytes('default.p12').subarray(0, 200);
    await expectCode(importCertificateBundle(truncated, { password: 'x' }), 'format_unknown');
  });
});
