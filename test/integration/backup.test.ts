import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupContentsView, BackupCreateResponse, BackupRestoreResponse } from '../../service/admin/contract.js';
import type { Service } from '../../service/app.js';
import { openBackup } from '../../service/backup/backup.js';
import { HomeClient, bodyText } from '../helpers/home-client.js';
import { runCli, tempDir } from '../helpers/service-process.js';
import { federate, inProcessAppliance } from '../helpers/in-process.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';

type Admin = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;

async function adminOf(service: Service): Promise<Admin> {
  const login = await fetch(`${service.adminUrl}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: service.loginToken }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const { csrf } = (await login.json()) as { csrf: string };
  return async (method, path, body) => {
    const response = await fetch(`${service.adminUrl}/api${path}`, {
      method,
      headers: { cookie, 'x-consulate-csrf': csrf, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

const errorCode = (r: { body: Record<string, unknown> }) => (r.body['error'] as { code: string } | undefined)?.code;

describe('backup and restore of the whole configuration', () => {
  let ca: TestCa;
  let a: Service;
  let b: Service;
  let replacement: Service;
  let apiKey = '';
  const passphrase = 'correct horse battery staple';

  beforeAll(async () => {
    ca = createTestCa();
    [a, b] = await Promise.all([inProcessAppliance('a.example', ca), inProcessAppliance('b.example', ca)]);
    await federate(a, b);
    apiKey = a.apiKeys.create('home').key;
    await new HomeClient(a.homeUrl, apiKey).putUser('alice', new Uint8Array([1, 2, 3]));
    await new HomeClient(b.homeUrl, b.apiKeys.create('home').key).putUser('bob', new Uint8Array([4]));
    // New hardware for a.example: its own identity key, key-encryption key and certificate.
    replacement = await inProcessAppliance('a.example', ca);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), replacement?.stop()]);
  });

  it('moves a.example to new hardware: keys, whitelist, API keys, directory and certificate, listed before restoring', async () => {
    const adminA = await adminOf(a);
    expect(errorCode(await adminA('POST', '/backup', { passphrase: 'short' }))).toBe('bad_request');
    const made = await adminA('POST', '/backup', { passphrase });
    expect(made.status).toBe(200);
    const { backup, fileName, contents } = made.body as unknown as BackupCreateResponse;
    expect(fileName).toMatch(/^consulate-a\.example-.*\.consulate-backup$/);
    const ownFingerprint = (await a.identities.active()).fingerprint;
    expect(contents).toMatchObject({
      domain: 'a.example',
      peers: [{ domain: 'b.example', state: 'active', pins: 1 }],
      apiKeys: [{ name: 'home', revoked: false }],
      directoryUsers: 1,
    });
    expect(contents.identities).toEqual([expect.objectContaining({ fingerprint: ownFingerprint, status: 'active' })]);
    expect(contents.certificates[0]).toMatchObject({ slot: 'federation', sans: expect.arrayContaining(['localhost']) });
    // No secret in the clear: the identity key and the certificate key are inside the ciphertext.
    const secret = Buffer.from((await a.identities.active()).secretKey).toString('base64url');
    expect(backup).not.toContain(secret);
    expect(backup).not.toContain('PRIVATE KEY');

    const adminR = await adminOf(replacement);
    const before = (await replacement.identities.active()).fingerprint;
    const auditRows = () => (replacement.store.sqlite.prepare('select count(*) as n from audit_log').get() as { n: number }).n;
    const auditBefore = auditRows();
    expect(errorCode(await adminR('POST', '/backup/inspect', { backup, passphrase: 'not the passphrase' }))).toBe('backup_passphrase');
    const tampered = backup.slice(0, -10) + (backup.at(-10) === 'A' ? 'B' : 'A') + backup.slice(-9);
    expect(errorCode(await adminR('POST', '/backup/inspect', { backup: tampered, passphrase }))).toBe('backup_passphrase');
    expect(errorCode(await adminR('POST', '/backup/inspect', { backup: 'hello', passphrase }))).toBe('backup_malformed');
    const listed = await adminR('POST', '/backup/inspect', { backup, passphrase });
    expect(listed.body as unknown as BackupContentsView).toEqual(contents);
    expect(errorCode(await adminR('POST', '/backup/restore', { backup, passphrase, confirm: 'b.example' }))).toBe('confirmation_required');
    // Nothing changed by any refusal.
    expect((await replacement.identities.active()).fingerprint).toBe(before);
    expect(await replacement.whitelist.list()).toEqual([]);
    expect(auditRows()).toBe(auditBefore);
    expect(existsSync(join(replacement.dataDir, 'backups'))).toBe(false);

    const restored = await adminR('POST', '/backup/restore', { backup, passphrase, confirm: 'a.example' });
    expect(restored.status).toBe(200);
    const result = restored.body as unknown as BackupRestoreResponse;
    expect(result.certificatesSkipped).toEqual([]);
    expect((await replacement.identities.active()).fingerprint).toBe(ownFingerprint);
    expect((await replacement.whitelist.list()).map((p) => p.domain)).toEqual(['b.example']);
    expect((await replacement.certificates?.store.current('federation'))?.info.fingerprintSha256).toBe(
      (await a.certificates?.store.current('federation'))?.info.fingerprintSha256,
    );
    // What the replacement was before is kept, encrypted with the same passphrase.
    expect(readdirSync(join(replacement.dataDir, 'backups'))).toEqual([expect.stringMatching(/^pre-restore-/)]);
    const saved = await openBackup(readFileSync(result.savedAs, 'utf8'), passphrase);
    expect(saved.identities.map((k) => k.status)).toEqual(['active']);

    // a.example's old hardware goes away; the replacement, with a.example's key, links to b.example
    // (which pinned that key) and the home's API key still works.
    await a.stop();
    await replacement.links.waitForLink('b.example', 15_000);
    const home = new HomeClient(replacement.homeUrl, apiKey);
    expect((await home.send('alice@a.example', ['bob@b.example'], ['from the new hardware'])).status).toBe(202);
    const receiver = new HomeClient(b.homeUrl, b.apiKeys.create('check').key);
    expect((await receiver.receive(1)).map(bodyText)).toEqual(['from the new hardware']);
  }, 60_000);

  it('makes, lists and restores a backup with the CLI, and refuses a wrong passphrase without changing anything', async () => {
    const env = { ...process.env, BACKUP_PASSPHRASE: passphrase, WRONG: 'not the passphrase at all' };
    const file = join(tempDir(), 'b.consulate-backup');
    const made = await runCli(['--data-dir', b.dataDir, 'backup', 'create', '--passphrase-env', 'BACKUP_PASSPHRASE', '--out', file], { env });
    expect(made.code, made.stderr).toBe(0);
    const fingerprint = (await b.identities.active()).fingerprint;
    expect(made.stdout).toContain(`identity    ${fingerprint} (active`);
    expect(made.stdout).toMatch(/peers {7}a\.example \(active, 1 pinned key\)/);

    const fresh = tempDir();
    expect((await runCli(['--data-dir', fresh, 'init', '--domain', 'b.example'], { env })).code).toBe(0);
    const freshKey = await runCli(['--data-dir', fresh, 'keys', 'show'], { env });
    const wrong = await runCli(['--data-dir', fresh, 'backup', 'restore', file, '--passphrase-env', 'WRONG', '--yes'], { env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('backup_passphrase');
    expect((await runCli(['--data-dir', fresh, 'keys', 'show'], { env })).stdout).toBe(freshKey.stdout);

    const restored = await runCli(['--data-dir', fresh, 'backup', 'restore', file, '--passphrase-env', 'BACKUP_PASSPHRASE', '--yes'], { env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/the configuration before is saved in .*pre-restore-consulate-b\.example-/);
    expect((await runCli(['--data-dir', fresh, 'keys', 'show'], { env })).stdout).toContain(fingerprint);
    expect((await runCli(['--data-dir', fresh, 'peer', 'list'], { env })).stdout).toContain('a.example');
  }, 60_000);

  it("takes a backup larger than the admin API's usual 1 MB request limit back in", async () => {
    const home = new HomeClient(b.homeUrl, b.apiKeys.create('bulk').key);
    for (let i = 0; i < 300; i++) expect((await home.putUser(`user${i}`, new Uint8Array(4096).fill(i % 256))).status).toBe(200);
    const admin = await adminOf(b);
    const made = await admin('POST', '/backup', { passphrase });
    const { backup } = made.body as unknown as BackupCreateResponse;
    expect(backup.length).toBeGreaterThan(1_500_000);
    const listed = await admin('POST', '/backup/inspect', { backup, passphrase });
    expect(listed.status).toBe(200);
    expect((listed.body as unknown as BackupContentsView).directoryUsers).toBe(301);
  }, 60_000);
});
