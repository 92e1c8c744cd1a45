import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/service-process.js';

describe('consulate demo --scenario smoke', () => {
  it('runs the scripted exchange between a.demo and b.demo and exits 0', async () => {
    const result = await runCli(['demo', '--scenario', 'smoke', '--data-dir', tempDir()], { timeoutMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('federation links up in both directions');
    expect(result.stdout).toContain('after the restart bob received the queued message exactly once and decrypted it');
    expect(result.stdout.trim().split('\n').at(-1)).toBe('smoke scenario passed: every message delivered exactly once and decrypted');
  }, 60_000);

  it('refuses an unknown scenario with a clear error', async () => {
    const result = await runCli(['demo', '--scenario', 'nope', '--data-dir', tempDir()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('bad_request: unknown scenario "nope" (known: smoke)');
  });
});
