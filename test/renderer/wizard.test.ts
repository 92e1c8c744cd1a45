import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/appliance.js';
import { launchChromium } from '../helpers/browser.js';
import { tempDir, type RunningService } from '../helpers/service-process.js';
import { capture, newPage, shoot, startTestService } from './gui-helpers.js';

describe('first-run wizard, in Chromium, from an empty data directory to a running appliance', () => {
  let browser: Browser;
  let service: RunningService | undefined;
  const dataDir = tempDir('consulate-wizard-');

  // Loopback and a free port for federation, given as flags at every start (as a packaged unit would).
  let flags: string[] = [];

  beforeAll(async () => {
    flags = ['--federation-host', '127.0.0.1', '--federation-port', String(await freePort())];
    [browser, service] = await Promise.all([launchChromium(), startTestService(flags, dataDir)]);
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  const next = (page: Page) => page.getByTestId('wizard-next').click();

  it('walks identity, domain, ports, certificate, password and summary, enforced until finished; after a restart the password logs in', async () => {
    const first = service as RunningService;
    const page = await newPage(browser);
    await page.goto(first.loginUrl);
    await page.getByTestId('wizard').waitFor();
    // Enforced: another screen's address still shows the wizard.
    await page.goto(`${first.adminUrl}/#/peers`);
    await page.getByTestId('wizard').waitFor();
    expect(await page.getByTestId('nav-peers').count()).toBe(0);

    const fingerprint = (await page.getByTestId('wizard-fingerprint').textContent()) ?? '';
    expect(fingerprint).toMatch(/^([a-z2-7]{4} ){5}[a-z2-7]{4}$/);
    await capture(page, 'wizard-1-identity');
    await next(page);

    await page.getByTestId('wizard-domain').fill('not a domain');
    expect(await page.getByTestId('wizard-next').isDisabled()).toBe(true);
    await page.getByTestId('wizard-domain').fill('wizard.example');
    await page.getByTestId('wizard-hostname').fill('localhost.wizard.example');
    await capture(page, 'wizard-2-domain');
    await next(page);

    await page.getByTestId('wizard-federation-port').fill(flags[3] as string);
    await shoot(page, 'wizard-3-ports');
    await next(page);

    // A private CA on the appliance issues and installs the certificate; the listener starts at once.
    await page.getByTestId('ca-issue').waitFor();
    expect(await page.getByTestId('ca-hostnames').inputValue()).toBe('localhost.wizard.example');
    await capture(page, 'wizard-4-certificate');
    await page.getByTestId('ca-issue').click();
    await page.getByTestId('certificate-summary').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('certificate-summary').textContent()).toContain('localhost.wizard.example');
    await shoot(page, 'wizard-4-certificate-found');
    await next(page);

    await page.getByTestId('wizard-password').fill('wizard admin password');
    await page.getByTestId('wizard-password-repeat').fill('wizard admin passwort');
    expect(await page.getByTestId('wizard-next').isDisabled()).toBe(true);
    await page.getByTestId('wizard-password-repeat').fill('wizard admin password');
    await capture(page, 'wizard-5-password');
    await next(page);

    await page.getByTestId('wizard-summary').waitFor();
    expect(await page.getByTestId('wizard-summary').textContent()).toContain('wizard.example');
    await page.getByTestId('wizard-restart').waitFor();
    await capture(page, 'wizard-6-summary');
    await page.getByTestId('wizard-finish').click();

    // The console, with the restart notice: the new domain and ports apply on restart.
    await page.getByTestId('nav-peers').waitFor();
    await page.getByTestId('banner-restart').waitFor();
    await shoot(page, 'wizard-7-finished');
    await page.close();

    // The operator restarts the service (systemd, the desktop shell, …).
    await first.stop();
    service = undefined;
    service = await startTestService(flags, dataDir);
    const login = await newPage(browser);
    await login.goto(service.adminUrl);
    await login.getByTestId('login-appliance').waitFor();
    expect(await login.getByTestId('login-appliance').textContent()).toContain('wizard.example');
    expect(await login.getByTestId('login-appliance').textContent()).toContain(fingerprint);
    await login.getByTestId('login-password').fill('not the password');
    await login.getByTestId('login-submit').click();
    await expect.poll(() => login.getByTestId('error-code').textContent()).toBe('password_invalid');
    await capture(login, 'login-error');
    await login.getByTestId('login-password').fill('wizard admin password');
    await login.getByTestId('login-submit').click();
    await expect.poll(() => login.getByTestId('domain').textContent()).toBe('wizard.example');
    await expect.poll(() => login.getByTestId('listener-federation').textContent()).toBe('Listening');
    expect(await login.getByTestId('access-badge').textContent()).toBe('Password protected');
    expect(await login.getByTestId('banner-restart').count()).toBe(0);
    expect(await login.getByTestId('wizard').count()).toBe(0);
    await capture(login, 'dashboard-after-wizard');
  }, 60_000);
});
