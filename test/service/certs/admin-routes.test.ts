import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaIssueResponse, CaResponse, CertCsrResponse, CertErrorBody, CertInstallResponse, CertsResponse } from '../../../service/admin/contract.js';
import { Service } from '../../../service/app.js';
import { validateConfig } from '../../../service/config/load.js';
import { listAudit } from '../../../service/store/audit.js';
import { createLogger } from '../../../service/telemetry/logger.js';
import { tempDir } from '../../helpers/service-process.js';
import { standardPki, type OpensslPki } from './openssl-pki.js';
import { servedCertificate } from './tls-probe.js';

describe('certificate admin API', () => {
  let pki: OpensslPki;
  let service: Service;
  let headers: Record<string, string>;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${service.adminUrl}/api${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: response.status, body: (await response.json()) as T };
  };
  const served = async () => (await servedCertificate(service.federation?.port as number, 'fed.example.org')).fingerprint256;

  beforeAll(async () => {
    // An enterprise PKI made by OpenSSL: the appliance trusts its root through federation.caBundleFile.
    pki = standardPki();
    service = new Service({
      config: validateConfig({
        domain: 'a.example',
        admin: { port: 0 },
        home: { port: 0 },
        federation: { host: '127.0.0.1', port: 0, hostname: 'fed.example.org', caBundleFile: pki.path('root.pem') },
        fileProxy: { hostname: 'files.example.org' },
      }),
      dataDir: tempDir(),
      logger: createLogger({ level: 'silent' }),
    });
    await service.start();
    const login = await fetch(`${service.adminUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: service.loginToken }),
    });
    const { csrf } = (await login.json()) as { csrf: string };
    headers = { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] as string, 'x-consulate-csrf': csrf, 'content-type': 'application/json' };
  });
  afterAll(async () => {
    await service?.stop();
    pki?.cleanup();
  });

  it('reports no certificate and a stopped federation listener at first', async () => {
    const { status, body } = await api<CertsResponse>('GET', '/certs');
    expect(status).toBe(200);
    expect(body.listener.running).toBe(false);
    expect(body.slots[0]).toMatchObject({ slot: 'federation', state: 'missing', source: 'none', hostnames: ['fed.example.org'], current: null });
    const ready = (await (await fetch(`${service.adminUrl}/readyz`)).json()) as { components: Record<string, { ready: boolean; detail: string }> };
    expect(ready.components['federation']).toMatchObject({ ready: false, detail: expect.stringContaining('consulate cert import') });
  });

  it('creates the organisation CA and installs a certificate from it: the listener starts without a restart', async () => {
    const init = await api<CaResponse>('POST', '/ca/init', { commonName: 'A Example CA', organization: 'A Example' });
    expect(init.status).toBe(201);
    expect(init.body).toMatchObject({ exists: true, sealed: true, certificate: { subject: 'O=A Example, CN=A Example CA', isCa: true } });
    expect((await api<CertErrorBody>('POST', '/ca/init', { commonName: 'Again' })).body.error.code).toBe('ca_exists');

    const issued = await api<CaIssueResponse>('POST', '/ca/issue', {});
    expect(issued.status).toBe(201);
    expect(issued.body.certificate.sans).toEqual(['fed.example.org', 'files.example.org']);
    expect(issued.body.installed?.report.ok).toBe(true);
    expect(await served()).toBe(issued.body.certificate.fingerprintSha256);
    const ready = (await (await fetch(`${service.adminUrl}/readyz`)).json()) as { components: Record<string, { ready: boolean }> };
    expect(ready.components['federation']?.ready).toBe(true);

    const ca = await api<CaResponse>('GET', '/ca');
    expect(new X509Certificate(ca.body.certPem as string).ca).toBe(true);
    expect(ca.body.certPem).not.toContain('PRIVATE');
  });

  it('makes a CSR whose key stays on the appliance and is found again when the signed certificate comes back', async () => {
    const csr = await api<CertCsrResponse>('POST', '/certs/csr', { organization: 'A Example' });
    expect(csr.status).toBe(200);
    expect(csr.body).toMatchObject({ fileName: 'fed.example.org.csr', key: 'ECDSA P-256', hostnames: ['fed.example.org', 'files.example.org'] });
    expect(JSON.stringify(csr.body)).not.toContain('PRIVATE KEY');
    // The enterprise CA (OpenSSL) signs the request; only the certificate chain comes back.
    pki.write('from-csr.csr', csr.body.csrPem);
    pki.signCsr('from-csr.csr', 'from-csr', 'intermediate', 'v3_leaf');
    const imported = await api<CertInstallResponse>('POST', '/certs/import', { pem: pki.read('from-csr.pem') + pki.read('intermediate.pem') });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    expect(imported.body.report.chain.map((c) => c.role)).toEqual(['leaf', 'intermediate', 'root']);
    expect(await served()).toBe(imported.body.installed.fingerprintSha256);
  });

  it('imports a PKCS#12 file from OpenSSL, refusing a wrong password with its own code', async () => {
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
      'leaf.p12',
    ]);
    const p12Base64 = Buffer.from(pki.bytes('leaf.p12')).toString('base64');
    const before = await served();
    const wrong = await api<CertErrorBody>('POST', '/certs/import', { p12Base64, password: 'wrong horse' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe('p12_bad_password');
    expect(await served()).toBe(before);

    const right = await api<CertInstallResponse>('POST', '/certs/import', { p12Base64, password: 'correct horse' });
    expect(right.status).toBe(200);
    expect(await served()).toBe(new X509Certificate(pki.read('leaf.pem')).fingerprint256);
  });

  it('refuses a chain without its intermediate and malformed PEM, with the whole report where there is one', async () => {
    const before = await served();
    const missing = await api<CertErrorBody>('POST', '/certs/import', { pem: pki.read('leaf.pem'), keyPem: pki.read('leaf.key') });
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe('chain_incomplete');
    expect(missing.body.error.checks?.find((c) => c.id === 'chain')).toMatchObject({ ok: false, code: 'chain_incomplete' });
    expect(missing.body.error.checks?.find((c) => c.id === 'key_match')).toMatchObject({ ok: true });

    const malformed = await api<CertErrorBody>('POST', '/certs/import', { pem: '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' });
    expect(malformed.body.error.code).toBe('pem_malformed');
    expect((await api<CertErrorBody>('POST', '/certs/import', { pem: 'x', p12Base64: 'eA==' })).body.error.code).toBe('bad_request');
    expect(await served()).toBe(before);
  });

  it('rolls back to the previous certificate and lists it all in GET /api/certs and the audit log', async () => {
    const status = await api<CertsResponse>('GET', '/certs');
    const previous = status.body.slots[0]?.previous?.fingerprintSha256;
    expect(status.body.slots[0]).toMatchObject({ state: 'ok', source: 'store', served: true, report: { ok: true, trusted: true } });
    const rolled = await api<CertInstallResponse>('POST', '/certs/rollback', {});
    expect(rolled.status).toBe(200);
    expect(rolled.body.installed.fingerprintSha256).toBe(previous);
    expect(await served()).toBe(previous);

    const metrics = await (await fetch(`${service.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^consulate_certificate_expiry_seconds\{slot="federation"\} \d+$/m);
    expect(metrics).toContain('consulate_certificate_state{slot="federation",state="ok"} 1');

    const actions = (await listAudit(service.store.db)).map((entry) => entry.action).reverse();
    expect(actions.filter((a) => a.startsWith('ca.') || a.startsWith('cert.'))).toEqual([
      'ca.init',
      'ca.issue',
      'cert.install',
      'cert.csr',
      'cert.install',
      'cert.install',
      'cert.rollback',
    ]);
  });
});
