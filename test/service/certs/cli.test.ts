import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/service-process.js';
import { standardPki, type OpensslPki } from './openssl-pki.js';

/** The certificate commands on a data directory with no service running, as an operator uses them first. */
describe('consulate cert and ca commands', { timeout: 60_000 }, () => {
  let pki: OpensslPki;
  let dataDir: string;
  const cli = (args: string[], env?: Record<string, string>) => runCli([...args, '--data-dir', dataDir], env ? { env } : {});

  beforeAll(async () => {
    pki = standardPki();
    dataDir = join(tempDir(), 'appliance');
    const init = await runCli([
      'init',
      '--data-dir',
      dataDir,
      '--domain',
      'a.example',
      '--federation-hostname',
      'fed.example.org',
      '--file-proxy-hostname',
      'files.example.org',
      '--federation-ca-bundle-file',
      pki.path('root.pem'),
    ]);
    expect(init.code, init.stderr).toBe(0);
  }, 60_000);
  afterAll(() => pki?.cleanup());

  it('makes a CSR for the configured names whose key stays here, then imports the signed certificate without --key', async () => {
    const outDir = tempDir();
    const csr = await cli(['cert', 'csr', '--out-dir', outDir, '--organization', 'Example']);
    expect(csr.code, csr.stderr).toBe(0);
    expect(readdirSync(outDir)).toEqual(['fed.example.org.csr']);
    const pending = readdirSync(join(dataDir, 'certs', 'pending'));
    expect(pending).toHaveLength(1);
    expect(statSync(join(dataDir, 'certs', 'pending', pending[0] as string)).mode & 0o777).toBe(0o600);
    // OpenSSL reads our CSR and, as an enterprise CA would, signs it with the SANs it asked for.
    expect(pki.openssl(['req', '-in', join(outDir, 'fed.example.org.csr'), '-noout', '-verify', '-text'])).toMatch(
      /DNS:fed\.example\.org, DNS:files\.example\.org/,
    );
    pki.signCsr(join(outDir, 'fed.example.org.csr'), 'signed', 'intermediate', 'v3_leaf', { copyExtensions: true });
    writeFileSync(pki.path('fullchain.pem'), pki.read('signed.pem') + pki.read('intermediate.pem'));

    const checked = await cli(['cert', 'check', pki.path('fullchain.pem')]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/^PASS\s+key_match\s+The private key belongs to the certificate\.$/m);
    expect(checked.stdout).toMatch(/^PASS\s+hostnames\s+The certificate covers fed\.example\.org\.$/m);

    const imported = await cli(['cert', 'import', pki.path('fullchain.pem')]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(readdirSync(join(dataDir, 'certs', 'pending'))).toEqual([]);

    const shown = JSON.parse((await cli(['cert', 'show', '--json'])).stdout) as Array<{ slot: string; state: string; current: { sans: string[] } | null }>;
    expect(shown.map((s) => [s.slot, s.state])).toEqual([
      ['federation', 'ok'],
      ['fileProxy', 'missing'],
    ]);
    expect(shown[0]?.current?.sans).toEqual(['fed.example.org', 'files.example.org']);
  });

  it('installs the same certificate in the file-proxy slot with its key found in the federation slot', async () => {
    const imported = await cli(['cert', 'import', pki.path('fullchain.pem'), '--slot', 'file-proxy', '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ installed: true, slot: 'fileProxy', report: { ok: true } });
    const check = await cli(['cert', 'check', '--slot', 'file-proxy']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('checked for files.example.org');
  });

  it('keeps an offline CA in --ca-dir with a 0600 key and signs a CSR from another appliance', async () => {
    const caDir = join(tempDir(), 'usb-ca');
    const init = await runCli(['ca', 'init', '--ca-dir', caDir, '--name', 'Field Team CA']);
    expect(init.code, init.stderr).toBe(0);
    expect(statSync(join(caDir, 'ca.key')).mode & 0o777).toBe(0o600);
    const again = await runCli(['ca', 'init', '--ca-dir', caDir, '--name', 'Other']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^consulate: ca_exists: /);

    pki.key('b');
    pki.openssl(['req', '-new', '-key', 'b.key', '-subj', '/CN=fed.b.example', '-addext', 'subjectAltName=DNS:fed.b.example', '-out', 'b.csr']);
    const outDir = tempDir();
    const issued = await runCli(['ca', 'issue', '--ca-dir', caDir, '--csr', pki.path('b.csr'), '--out-dir', outDir]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(readdirSync(outDir)).toEqual(['fed.b.example.crt']);
    const verify = pki.openssl(['verify', '-CAfile', join(caDir, 'ca.crt'), '-purpose', 'sslserver', join(outDir, 'fed.b.example.crt')]);
    expect(verify).toContain(': OK');

    const exported = await runCli(['ca', 'export', '--ca-dir', caDir]);
    expect(exported.stdout).toBe(readFileSync(join(caDir, 'ca.crt'), 'utf8'));
  });

  it('rolls back, and says so when there is nothing to roll back to', async () => {
    const rolled = await cli(['cert', 'rollback', '--slot', 'file-proxy']);
    expect(rolled.code).toBe(1);
    expect(rolled.stderr).toMatch(/^consulate: no_previous: /);
    const missing = await cli(['ca', 'issue', '--install']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^consulate: ca_missing: /);
  });
});
