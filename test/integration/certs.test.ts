import { X509Certificate } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsPaths } from '../../service/federation/tls-files.js';
import { metric, prepareAppliance, waitFor, type Appliance } from '../helpers/appliance.js';
import { runCli, tempDir, type RunningService } from '../helpers/service-process.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';
import { caDate, OpensslPki } from '../service/certs/openssl-pki.js';
import { servedCertificate } from '../service/certs/tls-probe.js';

const linkUp = (peer: string, direction: 'outbound' | 'inbound') => `consulate_peer_link_up{peer="${peer}",direction="${direction}"}`;
const day = 86_400_000;

/** Extension sections for certificates that peers reach as https://localhost:<port>. */
const localSections = `
[v3_local]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1

[v3_local_self]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash

[v3_elsewhere]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:elsewhere.example
`;

/** OpenSSL signs with the appliances' test CA, so a replacement is trusted by the peer exactly like the original. */
function pkiFor(ca: TestCa): OpensslPki {
  const pki = new OpensslPki();
  appendFileSync(pki.path('openssl.cnf'), localSections);
  pki.write('root.pem', ca.caCertPem);
  pki.write('root.key', readFileSync(join(ca.dir, 'ca.key')));
  return pki;
}

async function sumOf(service: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${service.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function adminSession(service: RunningService): Promise<(path: string) => Promise<unknown>> {
  const login = await fetch(`${service.adminUrl}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: service.token }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  return async (path) => (await fetch(`${service.adminUrl}/api${path}`, { headers: { cookie } })).json();
}

describe('certificates on running appliances with a federation link up', () => {
  let ca: TestCa;
  let pki: OpensslPki;
  let a: Appliance;
  let b: Appliance;

  beforeAll(async () => {
    ca = createTestCa();
    pki = pkiFor(ca);
    [a, b] = await Promise.all([prepareAppliance('a.example', ca), prepareAppliance('b.example', ca)]);
    await Promise.all([a.start(), b.start()]);
    const dir = tempDir();
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const file = join(dir, `${from.domain}.card.json`);
      expect((await from.cli(['card', 'export', '--out', file])).code).toBe(0);
      expect((await to.cli(['card', 'import', file, '--yes'])).code).toBe(0);
    }
    await waitFor(
      async () => (await metric(a.service!, linkUp('b.example', 'outbound'))) === 1 && (await metric(b.service!, linkUp('a.example', 'outbound'))) === 1,
      15_000,
      'links up',
    );
  }, 40_000);
  afterAll(async () => {
    await Promise.all([a?.service?.stop(), b?.service?.stop()]);
    pki?.cleanup();
  });

  it('`consulate cert check` prints the validation report of the certificate in use', async () => {
    const check = await a.cli(['cert', 'check']);
    expect(check.code, check.stderr).toBe(0);
    const lines = check.stdout.trim().split('\n');
    expect(lines[0]).toBe('the installed federation certificate: CN=a.example, checked for localhost');
    const marks = Object.fromEntries(lines.filter((l) => /^(PASS|FAIL|WARN) /.test(l)).map((l) => [l.split(/\s+/)[1], l.slice(0, 4)]));
    expect(marks).toMatchObject({ key_match: 'PASS', chain: 'PASS', validity: 'PASS', leaf_not_ca: 'PASS', extended_key_usage: 'PASS', hostnames: 'PASS' });
    // The test CA issues 7-day certificates, so the expiry check warns but does not fail.
    expect(lines.at(-1)).toMatch(/^OK( with \d warnings?)?: expires \S+ \(\d+ days, (ok|warning|critical)\), SHA-256 [0-9A-F:]{95}$/);
    expect(check.stdout).toContain('The chain builds to the trusted root "CN=Consulate Test CA".');
  });

  it('replaces the certificate through the CLI: new TLS connections see it, the link is not dropped', async () => {
    const [sa, sb] = [a.service!, b.service!];
    const apiA = await adminSession(sa);
    const apiB = await adminSession(sb);
    type PeerView = { status: { lastHandshake: string | null; outbound: string; inbound: string } };
    const handshakes = async () => [
      ((await apiA('/peers/b.example')) as PeerView).status.lastHandshake,
      ((await apiB('/peers/a.example')) as PeerView).status.lastHandshake,
    ];
    const before = {
      handshakes: await handshakes(),
      refusals: [await sumOf(sa, 'consulate_link_refusals_total'), await sumOf(sb, 'consulate_link_refusals_total')],
      served: await servedCertificate(a.federationPort, 'localhost'),
    };
    expect(before.handshakes.every((h) => h !== null)).toBe(true);

    pki.issue('next', 'a.example', 'root', 'v3_local');
    const imported = await a.cli(['cert', 'import', pki.path('next.pem'), '--key', pki.path('next.key')]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('installed in the federation slot');
    const next = new X509Certificate(pki.read('next.pem'));
    expect(next.fingerprint256).not.toBe(before.served.fingerprint256);

    await waitFor(async () => (await servedCertificate(a.federationPort, 'localhost')).fingerprint256 === next.fingerprint256, 5000, 'new certificate served');
    // With SNI (how peers dial) and without (a client connecting by IP address).
    expect(await servedCertificate(a.federationPort)).toMatchObject({ fingerprint256: next.fingerprint256, serialNumber: next.serialNumber.toUpperCase() });
    expect(await metric(sa, 'consulate_certificate_reloads_total{slot="federation"}')).toBe(1);

    // The links were never re-established: same handshakes, still up both ways, nothing refused.
    for (const [service, peer] of [
      [sa, 'b.example'],
      [sb, 'a.example'],
    ] as const) {
      expect(await metric(service, linkUp(peer, 'outbound'))).toBe(1);
      expect(await metric(service, linkUp(peer, 'inbound'))).toBe(1);
    }
    expect(await handshakes()).toEqual(before.handshakes);
    expect([await sumOf(sa, 'consulate_link_refusals_total'), await sumOf(sb, 'consulate_link_refusals_total')]).toEqual(before.refusals);

    // b's peer check dials a fresh TLS connection and accepts the new certificate.
    const check = await b.cli(['peer', 'check', 'a.example']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 60_000);

  it('refuses each bad import with its own code and leaves the installed certificate byte for byte', async () => {
    const installed = tlsPaths(a.dataDir);
    const stateFile = join(a.dataDir, 'certs', 'federation', 'state.json');
    const snapshot = () => [readFileSync(stateFile), readFileSync(installed.cert), readFileSync(installed.key)];
    const before = snapshot();
    const servedBefore = (await servedCertificate(a.federationPort, 'localhost')).fingerprint256;

    const now = Date.now();
    pki.issue('expired', 'a.example', 'root', 'v3_local', { startDate: caDate(new Date(now - 30 * day)), endDate: caDate(new Date(now - day)) });
    pki.issue('elsewhere', 'elsewhere.example', 'root', 'v3_elsewhere');
    pki.issue('intermediate', 'Consulate Test Intermediate', 'root', 'v3_intermediate');
    pki.issue('behind', 'a.example', 'intermediate', 'v3_local');
    pki.selfSigned('self', 'a.example', 'v3_local_self', 'ec', 30);
    pki.issue('other', 'a.example', 'root', 'v3_local');
    pki.openssl(['pkcs12', '-export', '-in', 'other.pem', '-inkey', 'other.key', '-passout', 'pass:the right one', '-out', 'other.p12']);
    pki.write('wrong-password.txt', 'not the right one\n');
    pki.write('truncated.pem', pki.read('other.pem').slice(0, 300));

    const cases: Array<[string, string[]]> = [
      ['pem_malformed', [pki.path('truncated.pem'), '--key', pki.path('other.key')]],
      ['p12_bad_password', [pki.path('other.p12'), '--password-file', pki.path('wrong-password.txt')]],
      ['key_mismatch', [pki.path('other.pem'), '--key', pki.path('behind.key')]],
      ['cert_expired', [pki.path('expired.pem'), '--key', pki.path('expired.key')]],
      ['hostname_mismatch', [pki.path('elsewhere.pem'), '--key', pki.path('elsewhere.key')]],
      ['chain_incomplete', [pki.path('behind.pem'), '--key', pki.path('behind.key')]],
      ['ca_as_leaf', [pki.path('intermediate.pem'), '--key', pki.path('intermediate.key')]],
      ['self_signed', [pki.path('self.pem'), '--key', pki.path('self.key')]],
    ];
    const results = await Promise.all(cases.map(([, args]) => runCli(['cert', 'import', ...args, '--data-dir', a.dataDir])));
    results.forEach((result, index) => {
      const [code] = cases[index] as (typeof cases)[number];
      expect(result.code, `${code}: ${result.stdout}${result.stderr}`).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^consulate: ${code}: not installed, the federation certificate in use is unchanged: `));
    });
    // Checks that ran show the whole report, the failing one marked.
    const incomplete = results[cases.findIndex(([code]) => code === 'chain_incomplete')];
    expect(incomplete?.stdout).toMatch(/^FAIL\s+chain\s+chain_incomplete: .*CN=Consulate Test Intermediate" of "a.example"/m);
    expect(incomplete?.stdout).toMatch(/^PASS\s+key_match/m);

    expect(snapshot()).toEqual(before);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await servedCertificate(a.federationPort, 'localhost')).fingerprint256).toBe(servedBefore);

    // The same P12 with its password goes in, and `cert rollback` brings the previous one back.
    const good = await runCli(['cert', 'import', pki.path('other.p12'), '--password-env', 'P12_PASSWORD', '--data-dir', a.dataDir], {
      env: { P12_PASSWORD: 'the right one' },
    });
    expect(good.code, good.stderr).toBe(0);
    const rollback = await a.cli(['cert', 'rollback']);
    expect(rollback.code, rollback.stderr).toBe(0);
    await waitFor(async () => (await servedCertificate(a.federationPort, 'localhost')).fingerprint256 === servedBefore, 5000, 'rolled back');
  }, 60_000);
});
