import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import type { RunningService } from '../helpers/service-process.js';
import { capture, newPage, startTestService } from './gui-helpers.js';

describe('GUI served by a running service, in Chromium', () => {
  let service: RunningService;
  let browser: Browser;

  beforeAll(async () => {
    [service, browser] = await Promise.all([startTestService(['--domain', 'smoke.example']), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('logs in with the one-time token, drops it from the URL, and refuses it a second time with the stable code', async () => {
    const page = await newPage(browser);
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(service.loginUrl);
    await expect.poll(() => page.getByTestId('domain').textContent()).toBe('smoke.example');
    expect(await page.getByTestId('version').textContent()).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(page.url()).not.toContain('token=');
    // No password yet: the advice banner and the badge say so, calmly.
    await page.getByTestId('banner-password-advice').waitFor();
    expect(await page.getByTestId('access-badge').textContent()).toBe('No admin password');

    const second = await newPage(browser);
    await second.goto(service.loginUrl);
    await expect.poll(() => second.getByTestId('error-code').textContent()).toBe('token_invalid');
    await second.getByTestId('login-no-password').waitFor();
    await capture(second, 'login-token-used');
    expect(consoleErrors.filter((e) => !e.includes('401'))).toEqual([]);
  });
});
