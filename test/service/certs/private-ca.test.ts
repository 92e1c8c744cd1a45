import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertError,
  createCsr,
  createPrivateCa,
  exportCaCertificatePem,
  generateKeyPair,
  issueServerCertificate,
  readCsr,
  validateCertificate,
  type PrivateCa,
} from '../../../service/certs/index.js';
import { OpensslPki } from './openssl-pki.js';

const hostnames = ['fed.example.org', 'files.example.org'];
const day = 86_400_000;

let pki: OpensslPki;
let ca: PrivateCa;

beforeAll(async () => {
  pki = new OpensslPki();
  ca = await createPrivateCa({ commonName: 'Field Team CA', organization: 'Example Field Team' });
  pki.write('our-ca.pem', ca.certPem);
});

afterAll(() => pki.cleanup());

describe('private CA', () => {
  it('creates a ten-year CA:true pathlen 0 certificate with keyCertSign and cRLSign', () => {
    const text = pki.openssl(['x509', '-in', 'our-ca.pem', '-noout', '-text']);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain('Subject: O = Example Field Team, CN = Field Team CA');
    const notAfter = new Date(pki.openssl(['x509', '-in', 'our-ca.pem', '-noout', '-enddate']).trim().split('=')[1] as string);
    expect(Math.round((notAfter.getTime() - Date.now()) / day)).toBe(3650);
    expect(pki.openssl(['verify', '-CAfile', 'our-ca.pem', 'our-ca.pem'])).toContain('our-ca.pem: OK');
  });

  it('issues a server certificate that `openssl verify` accepts for TLS servers and the hostname', async () => {
    const issued = await issueServerCertificate({ ca, hostnames: [...hostnames, '10.20.30.40'] });
    pki.write('issued.pem', issued.certPem);
    const verify = pki.openssl(['verify', '-CAfile', 'our-ca.pem', '-purpose', 'sslserver', '-verify_hostname', 'files.example.org', 'issued.pem']);
    expect(verify).toContain('issued.pem: OK');
    expect(pki.openssl(['verify', '-CAfile', 'our-ca.pem', '-verify_ip', '10.20.30.40', 'issued.pem'])).toContain('OK');
    const text = pki.openssl(['x509', '-in', 'issued.pem', '-noout', '-text']);
    expect(text).toContain('TLS Web Server Authentication');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    const serial = pki.openssl(['x509', '-in', 'issued.pem', '-noout', '-serial']).trim().split('=')[1] as string;
    expect(serial).toMatch(/^[0-9A-F]{32}$/);
    expect(issued.info.notAfter.getTime() - Date.now()).toBeGreaterThan(396 * day);
    expect(issued.info.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(397 * day);

    const report = await validateCertificate({
      leafAndChain: issued.chainPem,
      privateKey: issued.keyPem,
      hostnames,
      trustAnchors: [exportCaCertificatePem(ca)],
    });
    expect(report.summary.ok).toBe(true);
  });

  it('serves real TLS on loopback that a Node client trusting only the CA accepts', async () => {
    const issued = await issueServerCertificate({ ca, hostnames });
    const server = createServer({ cert: issued.chainPem, key: issued.keyPem }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const handshake = (servername: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port, servername, ca: [exportCaCertificatePem(ca)] }, () => socket.end());
          socket.once('secureConnect', () => resolve('ok'));
          socket.once('error', (error: NodeJS.ErrnoException) => reject(error));
        });
      await expect(handshake('files.example.org')).resolves.toBe('ok');
      await expect(handshake('other.example.org')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      server.close();
    }
  });

  it('gives every certificate a different random serial', async () => {
    const a = await issueServerCertificate({ ca, hostnames });
    const b = await issueServerCertificate({ ca, hostnames });
    expect(a.info.serialNumber).not.toBe(b.info.serialNumber);
  });

  it('signs a CSR made by `openssl req`, taking its SANs, so the key never leaves the requester', async () => {
    pki.key('req', 'ec');
    pki.openssl([
      'req',
      '-new',
      '-key',
      'req.key',
      '-subj',
      '/CN=fed.b.example',
      '-addext',
      'subjectAltName=DNS:fed.b.example,DNS:files.b.example',
      '-out',
      'req.csr',
    ]);
    const issued = await issueServerCertificate({ ca, csrPem: pki.read('req.csr') });
    expect(issued.keyPem).toBeUndefined();
    expect(issued.info.sans).toEqual(['fed.b.example', 'files.b.example']);
    pki.write('from-csr.pem', issued.certPem);
    expect(pki.openssl(['verify', '-CAfile', 'our-ca.pem', '-verify_hostname', 'files.b.example', 'from-csr.pem'])).toContain('OK');
    const report = await validateCertificate({
      leafAndChain: issued.chainPem,
      privateKey: pki.read('req.key'),
      hostnames: ['fed.b.example'],
      trustAnchors: [ca.certPem],
    });
    expect(report.summary.ok).toBe(true);
  });

  it('clips a server certificate to the CA lifetime and refuses an expired CA', async () => {
    const shortCa = await createPrivateCa({ commonName: 'Short CA', validityDays: 30 });
    const issued = await issueServerCertificate({ ca: shortCa, hostnames });
    const caNotAfter = new Date(
      pki
        .openssl(['x509', '-noout', '-enddate'].concat(['-in', pki.write('short-ca.pem', shortCa.certPem)]))
        .trim()
        .split('=')[1] as string,
    );
    expect(issued.info.notAfter.getTime()).toBeLessThanOrEqual(caNotAfter.getTime() + 1000);
    await expect(issueServerCertificate({ ca: shortCa, hostnames, now: new Date(Date.now() + 60 * day) })).rejects.toMatchObject({ code: 'cert_expired' });
    await expect(issueServerCertificate({ ca: { certPem: ca.certPem, keyPem: shortCa.keyPem }, hostnames })).rejects.toMatchObject({ code: 'key_mismatch' });
  });

  it('exports only the CA certificate, never the key', () => {
    const exported = exportCaCertificatePem(`${ca.keyPem}${ca.certPem}`);
    expect(exported).toBe(ca.certPem);
    expect(exported).not.toContain('PRIVATE KEY');
  });
});

describe('CSR', () => {
  it('round-trips: our CSR signed by `openssl x509 -req` validates with our key', async () => {
    const csr = await createCsr({ hostnames: ['fed.example.org', 'files.example.org', '192.0.2.10'], organization: 'Example' });
    expect(csr.key).toBe('ECDSA P-256');
    pki.write('ours.csr', csr.csrPem);
    expect(pki.openssl(['req', '-in', 'ours.csr', '-noout', '-verify', '-subject'])).toContain('subject=O = Example, CN = fed.example.org');
    pki.selfSigned('csr-root', 'CSR Root', 'v3_root');
    pki.signCsr('ours.csr', 'ours', 'csr-root', '', { copyExtensions: true, days: 30 });
    const report = await validateCertificate({
      leafAndChain: pki.read('ours.pem'),
      privateKey: csr.keyPem,
      hostnames: ['files.example.org', '192.0.2.10'],
      trustAnchors: [pki.read('csr-root.pem')],
    });
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
  });

  it('makes RSA 2048 CSRs and reuses an existing key for renewal', async () => {
    const key = await generateKeyPair('rsa-2048');
    const csr = await createCsr({ hostnames: ['fed.example.org'], keyPem: key.privateKeyPem });
    const { info } = await readCsr(csr.csrPem);
    expect(info).toEqual({ subject: 'CN=fed.example.org', sans: ['fed.example.org'], key: 'RSA 2048' });
    pki.write('rsa.csr', csr.csrPem);
    expect(pki.openssl(['req', '-in', 'rsa.csr', '-noout', '-text'])).toContain('Public-Key: (2048 bit)');
  });

  it('refuses hostnames that are not hostnames', async () => {
    const error = await createCsr({ hostnames: ['fed example.org'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CertError);
    expect((error as CertError).code).toBe('hostname_invalid');
    await expect(createCsr({ hostnames: [] })).rejects.toMatchObject({ code: 'hostname_invalid' });
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const csr = await createCsr({ hostnames: ['fed.example.org'] });
    const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = (der[der.length - 5] as number) ^ 0xff;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(readCsr(tampered)).rejects.toMatchObject({ code: 'csr_malformed' });
  });
});
