import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { screenshotPath } from '../helpers/browser.js';
import { startService, type RunningService } from '../helpers/service-process.js';

/**
 * The home API listens on 8441 by default; tests run several appliances in parallel, so
 * each gets an ephemeral one.
 */
export const serviceEnv = { CONSULATE_HOME_PORT: '0' };

export function startTestService(args: string[] = [], dataDir?: string): Promise<RunningService> {
  return startService(args, { env: serviceEnv, ...(dataDir ? { dataDir } : {}) });
}

export interface AxeReport {
  screen: string;
  blocking: Array<{ id: string; impact: string | null | undefined; help: string; targets: string[] }>;
}

/** Runs axe-core on the page as it is now; fails on serious or critical violations and names them. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const blocking = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  expect({ screen, blocking } satisfies AxeReport).toEqual({ screen, blocking: [] });
}

/** Screenshot of the whole page, after animations settle, into test-results/screens/. */
export async function shoot(page: Page, name: string): Promise<void> {
  // Fixed header and sidebar are drawn where the page is scrolled; shoot from the top.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(250);
  await page.screenshot({ path: screenshotPath(name), fullPage: true, animations: 'disabled' });
}

/** Shoots and checks one screen. */
export async function capture(page: Page, name: string): Promise<void> {
  await shoot(page, name);
  await expectAccessible(page, name);
}

/** A page in its own context (own cookies); axe needs pages made through a context. */
export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  return context.newPage();
}

/** From anywhere in the console: Settings, then the Backup & restore tab. */
export async function openBackupTab(page: Page): Promise<void> {
  await page.getByTestId('nav-settings').click();
  await page.waitForURL(/#\/settings/);
  await page.getByRole('tab', { name: 'Backup & restore' }).click();
  await page.getByTestId('backup-make').waitFor();
}
