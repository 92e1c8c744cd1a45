import { existsSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../service/app.js';
import { launchChromium } from '../helpers/browser.js';
import { federate, inProcessAppliance } from '../helpers/in-process.js';
import { createTestCa } from '../helpers/test-ca.js';
import { capture, newPage, openBackupTab, shoot } from './gui-helpers.js';

/** The fingerprint as the GUI prints it: groups separated by spaces. */
const shown = (fingerprint: string) => fingerprint.split('-').join(' ');

describe('backup and restore through the GUI: a.example moves to a fresh appliance, in Chromium', () => {
  let a: Service;
  let b: Service;
  let replacement: Service;
  let browser: Browser;
  let pageA: Page;
  let pageR: Page;
  const passphrase = 'correct horse battery staple';
  let backupFile = { name: '', text: '' };
  let fingerprintA = '';

  beforeAll(async () => {
    const ca = createTestCa();
    [a, b, browser] = await Promise.all([inProcessAppliance('a.example', ca), inProcessAppliance('b.example', ca), launchChromium()]);
    // New hardware for a.example: its own identity key, key-encryption key and certificate.
    [replacement] = await Promise.all([inProcessAppliance('a.example', ca), federate(a, b)]);
    a.apiKeys.create('home');
    fingerprintA = (await a.identities.active()).fingerprint;
    [pageA, pageR] = await Promise.all([newPage(browser), newPage(browser)]);
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all([a?.stop(), b?.stop(), replacement?.stop()]);
  });

  it('makes a backup on a.example: refuses a short passphrase, shows progress, downloads the file and lists it', async () => {
    await pageA.goto(a.loginUrl);
    await expect.poll(() => pageA.getByTestId('domain').textContent()).toBe('a.example');
    await openBackupTab(pageA);

    const create = pageA.getByTestId('backup-create');
    await pageA.getByTestId('backup-passphrase').fill('too short');
    await pageA.getByTestId('backup-passphrase-repeat').fill('too short');
    expect(await create.isDisabled()).toBe(true);
    expect(await pageA.getByTestId('backup-make').textContent()).toContain('At least 12 characters (9 so far)');
    await pageA.getByTestId('backup-passphrase').fill(passphrase);
    expect(await create.isDisabled()).toBe(true);
    expect(await pageA.getByTestId('backup-make').textContent()).toContain('The two entries differ');
    await pageA.getByTestId('backup-passphrase-repeat').fill(passphrase);
    expect(await create.isDisabled()).toBe(false);

    // Hold the answer back a moment so that the progress shown while scrypt runs can be seen.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await pageA.route('**/api/backup', async (route) => {
      await held;
      await route.continue();
    });
    const download = pageA.waitForEvent('download');
    await create.click();
    await pageA.getByTestId('backup-busy').waitFor();
    await shoot(pageA, 'settings-backup-busy');
    release();
    const file = await download;
    await pageA.unroute('**/api/backup');

    expect(file.suggestedFilename()).toMatch(/^consulate-a\.example-.*\.consulate-backup$/);
    backupFile = { name: file.suggestedFilename(), text: readFileSync(await file.path(), 'utf8') };
    expect(backupFile.text.startsWith('CONSULATE-BACKUP 1\n')).toBe(true);
    await pageA.getByTestId('backup-made').waitFor();
    expect(await pageA.getByTestId('backup-file-name').textContent()).toBe(file.suggestedFilename());
    expect(await pageA.getByTestId('backup-passphrase-note').textContent()).toContain('cannot be recovered');
    const made = pageA.getByTestId('backup-made-contents');
    expect(await made.getByTestId('contents-domain').textContent()).toBe('a.example');
    expect(await made.getByTestId('contents-fingerprint-0').textContent()).toBe(shown(fingerprintA));
    expect(await made.getByTestId('contents-peer-pins-b.example').textContent()).toBe('1');
    expect(await made.getByTestId('contents-api-keys').textContent()).toContain('home');
    // The fields are cleared: the passphrase does not linger in the page.
    expect(await pageA.getByTestId('backup-passphrase').inputValue()).toBe('');
    await capture(pageA, 'settings-backup-made');
  }, 30_000);

  it('restores it on a fresh a.example: refuses a wrong file and a wrong passphrase, lists the contents, asks for the domain, then replaces keys and whitelist', async () => {
    const before = (await replacement.identities.active()).fingerprint;
    expect(before).not.toBe(fingerprintA);
    await pageR.goto(replacement.loginUrl);
    await expect.poll(() => pageR.getByTestId('domain').textContent()).toBe('a.example');
    await openBackupTab(pageR);
    const card = pageR.getByTestId('backup-restore');
    const inspect = pageR.getByTestId('restore-inspect');
    expect(await inspect.isDisabled()).toBe(true);
    expect(await pageR.getByTestId('restore-file').getAttribute('accept')).toBe('.consulate-backup');

    // Not a backup at all.
    await pageR
      .getByTestId('restore-file')
      .setInputFiles({ name: 'notes.consulate-backup', mimeType: 'application/octet-stream', buffer: Buffer.from('shopping list\n') });
    await pageR.getByTestId('restore-passphrase').fill(passphrase);
    await inspect.click();
    await expect.poll(() => card.getByTestId('error-code').textContent()).toBe('backup_malformed');
    expect(await card.getByTestId('error-advice').textContent()).toContain('Choose the .consulate-backup file');

    // The backup, with the wrong passphrase.
    await pageR
      .getByTestId('restore-file')
      .setInputFiles({ name: backupFile.name, mimeType: 'application/octet-stream', buffer: Buffer.from(backupFile.text) });
    expect(await card.getByTestId('error').count()).toBe(0);
    await pageR.getByTestId('restore-passphrase').fill('not the passphrase');
    await inspect.click();
    await expect.poll(() => card.getByTestId('error-code').textContent()).toBe('backup_passphrase');
    expect(await card.getByTestId('error-advice').textContent()).toContain('Check the passphrase');
    expect(await pageR.getByTestId('restore-start').count()).toBe(0);
    await capture(pageR, 'settings-backup-wrong-passphrase');

    // The right passphrase: the contents are listed, and only then can the operator restore.
    await pageR.getByTestId('restore-passphrase').fill(passphrase);
    await inspect.click();
    const listed = pageR.getByTestId('restore-contents');
    await listed.waitFor();
    expect(await card.getByTestId('error').count()).toBe(0);
    expect(await listed.getByTestId('contents-domain').textContent()).toBe('a.example');
    expect(await listed.getByTestId('contents-fingerprint-0').textContent()).toBe(shown(fingerprintA));
    expect(await listed.getByTestId('contents-identity-status-0').textContent()).toBe('active');
    expect(await listed.getByTestId('contents-peer-b.example').textContent()).toContain('active');
    expect(await listed.getByTestId('contents-peer-pins-b.example').textContent()).toBe('1');
    expect(await listed.getByTestId('contents-cert-federation').textContent()).toContain('localhost');
    await capture(pageR, 'settings-backup-restore-contents');

    await pageR.getByTestId('restore-start').click();
    const dialog = pageR.getByRole('dialog');
    await dialog.waitFor();
    const said = (await pageR.getByTestId('restore-confirm-text').textContent()) ?? '';
    for (const phrase of [
      'identity keys',
      'whitelist',
      'home API keys',
      'directory',
      'admin password',
      'certificates',
      'Kept:',
      'queued envelopes',
      'audit log',
      'Saved first:',
    ])
      expect(said).toContain(phrase);
    const confirm = pageR.getByTestId('confirm-button');
    expect(await confirm.isDisabled()).toBe(true);
    await pageR.getByTestId('confirm-input').fill('b.example');
    expect(await confirm.isDisabled()).toBe(true);
    await capture(pageR, 'settings-backup-restore-confirm');
    // Cancelling changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await replacement.identities.active()).fingerprint).toBe(before);
    expect(await replacement.whitelist.list()).toEqual([]);

    await pageR.getByTestId('restore-start').click();
    await pageR.getByTestId('confirm-input').fill('a.example');
    await confirm.click();
    await pageR.getByTestId('restore-result').waitFor();
    await dialog.waitFor({ state: 'hidden' });

    expect((await replacement.identities.active()).fingerprint).toBe(fingerprintA);
    expect((await replacement.whitelist.list()).map((p) => p.domain)).toEqual(['b.example']);
    expect(replacement.apiKeys.list().map((k) => k.name)).toEqual(['home']);
    const savedAs = (await pageR.getByTestId('restore-saved-as').textContent()) ?? '';
    expect(savedAs).toMatch(/\/backups\/pre-restore-consulate-a\.example-.*\.consulate-backup$/);
    expect(savedAs.startsWith(replacement.dataDir)).toBe(true);
    expect(existsSync(savedAs)).toBe(true);
    expect(await pageR.getByTestId('restore-skipped').count()).toBe(0);
    // In-process appliances have no settings file, so nothing waits for a restart.
    expect(await pageR.getByTestId('restore-restart').count()).toBe(0);
    expect(await pageR.getByTestId('restore-contents').count()).toBe(0);
    await capture(pageR, 'settings-backup-restored');
  }, 30_000);
});
