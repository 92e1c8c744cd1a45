import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { issueServerCertificate, validateCertificate } from '../../../service/certs/index.js';
import { describeOrgCa, exportOrgCa, initOrgCa, loadOrgCa } from '../../../service/certs/org-ca.js';
import type { Kek } from '../../../service/identity/kek.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function caDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'consulate-orgca-'));
  dirs.push(dir);
  return join(dir, 'ca');
}

const kek: Kek = { key: randomBytes(32), source: 'key-file' };

describe('organisation CA on disk', () => {
  it('seals the key with the appliance KEK, so the directory never holds it in plain text', async () => {
    const dir = caDir();
    const created = await initOrgCa({ dir, kek, commonName: 'Example Field Team CA', organization: 'Example' });
    expect(created.sealed).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key.sealed']);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'ca.key.sealed')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'ca.key.sealed'), 'utf8')).not.toContain('PRIVATE KEY');

    const ca = await loadOrgCa(dir, () => kek);
    const issued = await issueServerCertificate({ ca, hostnames: ['fed.example.org'] });
    const report = await validateCertificate({
      leafAndChain: issued.chainPem,
      privateKey: issued.keyPem,
      hostnames: ['fed.example.org'],
      trustAnchors: [await exportOrgCa(dir)],
    });
    expect(report.summary.ok).toBe(true);
    expect(report.summary.chain.map((c) => c.role)).toEqual(['leaf', 'root']);
  });

  it('refuses to unseal with another KEK, naming where each key came from', async () => {
    const dir = caDir();
    await initOrgCa({ dir, kek, commonName: 'Sealed CA' });
    const other: Kek = { key: randomBytes(32), source: 'passphrase' };
    await expect(loadOrgCa(dir, () => other)).rejects.toMatchObject({ code: 'key_locked', message: expect.stringMatching(/passphrase.*key-file/) });
  });

  it('writes a plain 0600 key outside the data directory, and never replaces an existing CA', async () => {
    const dir = caDir();
    const first = await initOrgCa({ dir, commonName: 'USB CA' });
    expect(first.sealed).toBe(false);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect((await loadOrgCa(dir, () => kek)).keyPem).toContain('BEGIN PRIVATE KEY');
    await expect(initOrgCa({ dir, commonName: 'Another CA' })).rejects.toMatchObject({ code: 'ca_exists' });
    expect((await describeOrgCa(dir))?.info.fingerprintSha256).toBe(first.info.fingerprintSha256);
  });

  it('exports only the certificate and reports a missing CA with ca_missing', async () => {
    const dir = caDir();
    await initOrgCa({ dir, commonName: 'Export CA' });
    const pem = await exportOrgCa(dir);
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(pem).not.toContain('PRIVATE');
    await expect(exportOrgCa(caDir())).rejects.toMatchObject({ code: 'ca_missing' });
    await expect(loadOrgCa(caDir(), () => kek)).rejects.toMatchObject({ code: 'ca_missing' });
  });
});
