import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareAppliance, type Appliance } from '../helpers/appliance.js';
import { launchChromium } from '../helpers/browser.js';
import { tempDir } from '../helpers/service-process.js';
import { createTestCa } from '../helpers/test-ca.js';
import { capture, newPage, shoot } from './gui-helpers.js';

/** `consulate card export` prints the fingerprint and, last, the one-line card text. */
async function exportCard(appliance: Appliance, file?: string): Promise<{ text: string; fingerprint: string }> {
  const result = await appliance.cli(['card', 'export', ...(file ? ['--out', file] : [])]);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.trim().split('\n');
  return { text: lines[lines.length - 1] as string, fingerprint: /fingerprint (\S+)/.exec(result.stdout)?.[1] as string };
}

describe('peers through the GUI: two appliances on loopback, real TLS, in Chromium', () => {
  let a: Appliance;
  let b: Appliance;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const ca = createTestCa();
    [a, b, browser] = await Promise.all([prepareAppliance('a.example', ca), prepareAppliance('b.example', ca), launchChromium()]);
    await Promise.all([a.start(), b.start()]);
    page = await newPage(browser);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all([a?.service?.stop(), b?.service?.stop()]);
  });

  const go = async (screen: string) => {
    await page.getByTestId(`nav-${screen}`).click();
    await page.waitForURL(new RegExp(`#/${screen}`));
  };

  it('adds b.example from a photo of its QR code (after refusing a bad paste and an image without a code), confirms the fingerprint, and sees the link come up (b.example imported ours with the CLI)', async () => {
    await page.goto(a.service!.loginUrl);
    await expect.poll(() => page.getByTestId('domain').textContent()).toBe('a.example');
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('Live');
    await shoot(page, 'dashboard-empty');

    await go('peers');
    await shoot(page, 'peers-empty');

    // b.example's administrator imports our card with the CLI; its appliance dials ours at once
    // and is refused (not on our whitelist yet), which the Peers screen offers to resolve.
    const dir = tempDir();
    await exportCard(a, join(dir, 'a.card.json'));
    const imported = await b.cli(['card', 'import', join(dir, 'a.card.json'), '--yes']);
    expect(imported.code, imported.stderr).toBe(0);
    await page.getByTestId('unknown-dialer-b.example').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('unknown-dialer-b.example').textContent()).toContain('is not on the whitelist');
    await capture(page, 'peers-unknown-dialer');
    await page.getByTestId('unknown-dialer-add-b.example').click();
    await page.getByTestId('card-input').fill('consulate-card:not a card');
    expect(await page.getByTestId('card-preview').isDisabled()).toBe(true);
    await page.getByTestId('card-input').fill('consulate-card:AAAA');
    await page.getByTestId('card-preview').click();
    await expect.poll(() => page.getByTestId('error-code').textContent()).toBe('card_malformed');
    await capture(page, 'peers-add-invalid-card');

    const card = await exportCard(b);
    await page.getByTestId('card-input').fill(card.text);
    await shoot(page, 'peers-add-paste');
    // The same card as a photo of b.example's QR code: an image without one is refused first.
    await page.getByRole('tab', { name: 'QR image' }).click();
    await page.getByTestId('qr-file').setInputFiles({ name: 'screen.png', mimeType: 'image/png', buffer: await page.screenshot() });
    await expect.poll(() => page.getByTestId('qr-problem').textContent()).toContain('No QR code was found');
    const photo = await QRCode.toBuffer(card.text, { type: 'png', margin: 4, scale: 6 });
    await page.getByTestId('qr-file').setInputFiles({ name: 'card-qr.png', mimeType: 'image/png', buffer: photo });
    await expect.poll(() => page.getByTestId('preview-fingerprint').textContent()).toBe(card.fingerprint.split('-').join(' '));
    expect(await page.getByTestId('card-preview-details').textContent()).toContain('add a new peer');
    expect(await page.getByTestId('card-import').isDisabled()).toBe(true);
    await page.getByTestId('fingerprint-confirm').check();
    await capture(page, 'peers-add-confirm-fingerprint');
    await page.getByTestId('card-import').click();
    await page.getByTestId('peer-added').waitFor();
    await page.getByTestId('peer-b.example').waitFor();
    // The status line is pushed over the event stream, no reload.
    await expect.poll(() => page.getByTestId('peer-status-b.example').textContent(), { timeout: 20_000 }).toBe('Up');
    expect(await page.getByTestId('unknown-dialer-b.example').count()).toBe(0);
    await capture(page, 'peers-up');
  }, 60_000);

  it('runs the doctor step by step, and shows traffic on the dashboard', async () => {
    await page.getByTestId('peer-check').click();
    await page.getByTestId('doctor-result').waitFor({ timeout: 20_000 });
    for (const step of ['dns', 'tcp', 'tls', 'handshake', 'clock']) expect(await page.getByTestId(`doctor-${step}`).textContent()).toContain('PASS');
    await capture(page, 'peers-doctor');

    await go('dashboard');
    await expect.poll(() => page.getByTestId('peers-up').textContent()).toBe('1/1');
    await page.locator('.recharts-surface').first().waitFor();
    await capture(page, 'dashboard-peer-up');
  }, 40_000);

  it('suspends b.example only after a confirmation that says what is kept and what stops', async () => {
    await page.goto(`${a.service!.adminUrl}/#/peers/b.example`);
    await page.getByTestId('peer-suspend').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Nothing is deleted');
    await capture(page, 'peers-suspend-confirm');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByTestId('peer-status-b.example').textContent()).toBe('Up');

    await page.getByTestId('peer-suspend').click();
    await page.getByTestId('confirm-button').click();
    await expect.poll(() => page.getByTestId('peer-status-b.example').textContent()).toBe('Suspended');
    await page.getByTestId('peer-resume').waitFor();
    await shoot(page, 'peers-suspended');

    // The CLI sees the same state: the GUI went through the real API.
    const shown = JSON.parse((await a.cli(['peer', 'show', 'b.example', '--json'])).stdout) as { state: string };
    expect(shown.state).toBe('suspended');
  }, 30_000);

  it('shows the certificate in use, and refuses a bad certificate file with its code and the validation report', async () => {
    await go('certificates');
    await expect.poll(() => page.getByTestId('cert-state-federation').textContent()).toBe('Valid');
    expect(await page.getByTestId('cert-slot-federation').textContent()).toContain('a.example');
    await capture(page, 'certificates');

    const dir = tempDir();
    const junk = join(dir, 'not-a-certificate.pem');
    writeFileSync(junk, 'this is a shopping list, not a certificate\n');
    await page.getByTestId('tab-cert-import').click();
    await page.locator('input[type=file]').first().setInputFiles(junk);
    await page.getByTestId('cert-import').click();
    await expect.poll(() => page.getByTestId('error-code').textContent()).toMatch(/^(pem_malformed|format_unknown|bundle_empty)$/);
    await capture(page, 'certificates-import-bad-file');

    // A well-formed but self-signed certificate: refused, with the failing checks listed.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'self.key',
        '-out',
        'self.crt',
        '-days',
        '5',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    await page.getByTestId('cert-pem').fill(readFileSync(join(dir, 'self.crt'), 'utf8') + readFileSync(join(dir, 'self.key'), 'utf8'));
    await page.getByTestId('cert-import').click();
    await expect.poll(() => page.getByTestId('error-code').textContent()).toBe('self_signed');
    await page.getByTestId('error-checks').waitFor();
    await shoot(page, 'certificates-import-refused');
    expect(await page.getByTestId('cert-state-federation').textContent()).toBe('Valid');
  }, 30_000);

  it('shows identity with fingerprint, card and QR; queues; logs and the audit trail; settings', async () => {
    await go('identity');
    const own = await exportCard(a);
    await expect.poll(() => page.getByTestId('own-fingerprint').textContent()).toBe(own.fingerprint.split('-').join(' '));
    expect(await page.getByTestId('card-text').inputValue()).toMatch(/^consulate-card:[\w-]+$/);
    await page.getByTestId('qr-code').waitFor();
    await capture(page, 'identity');

    await go('queues');
    await expect.poll(() => page.getByTestId('queue-depth-b.example').textContent()).toBe('0');
    await capture(page, 'queues');

    await go('logs');
    await page.getByTestId('log-table').waitFor();
    await capture(page, 'logs-live');
    await page.getByTestId('log-filter').fill('no line contains this');
    await page.getByTestId('log-empty').waitFor();
    await page.getByTestId('tab-audit').click();
    await page.getByTestId('audit-chain').waitFor();
    expect(await page.getByTestId('audit-chain').textContent()).toContain('intact');
    const audit = (await page.getByTestId('audit-table').textContent()) ?? '';
    for (const action of ['peer.add', 'peer.suspend', 'admin.login']) expect(audit).toContain(action);
    await capture(page, 'logs-audit');

    await go('settings');
    await page.getByTestId('settings-save-general').waitFor();
    await capture(page, 'settings-general');
    await page.getByRole('tab', { name: 'Connections' }).click();
    await shoot(page, 'settings-connections');
    await page.getByRole('tab', { name: 'Admin access' }).click();
    await capture(page, 'settings-access');
    await page.getByRole('tab', { name: 'Backup & restore' }).click();
    await page.getByTestId('backup-make').waitFor();
    await shoot(page, 'settings-backup');
  }, 60_000);
});
