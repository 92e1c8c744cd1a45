import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshotPath } from '../helpers/browser.js';
import { startService, type RunningService } from '../helpers/service-process.js';

describe('GUI served by a running service, in Chromium', () => {
  let service: RunningService;
  let browser: Browser;

  beforeAll(async () => {
    service = await startService(['--domain', 'smoke.example']);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('renders the shell with health and version, logs in with the one-time token and drops it from the URL', async () => {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(service.loginUrl);
    await expect.poll(() => page.getByTestId('health').textContent()).toBe('Service healthy');
    expect(await page.getByTestId('version').textContent()).toMatch(/^v\d+\.\d+\.\d+$/);
    await expect.poll(() => page.getByTestId('domain').textContent()).toBe('smoke.example');
    expect(page.url()).not.toContain('token=');
    await page.screenshot({ path: screenshotPath('shell'), fullPage: true });

    // The token was single-use: a second visit with it is refused with the stable code.
    const second = await browser.newPage();
    await second.goto(service.loginUrl);
    await expect.poll(() => second.getByTestId('error').textContent()).toContain('token_invalid');
    expect(consoleErrors.filter((e) => !e.includes('401'))).toEqual([]);
  });
});
