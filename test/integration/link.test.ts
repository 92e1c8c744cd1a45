import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, prepareAppliance, waitFor, type Appliance } from '../helpers/appliance.js';
import { runCli, tempDir } from '../helpers/service-process.js';
import { createTestCa } from '../helpers/test-ca.js';

const linkUp = (peer: string, direction: 'outbound' | 'inbound') => `consulate_peer_link_up{peer="${peer}",direction="${direction}"}`;

describe('two appliances on loopback, real TLS, cards exchanged through the CLI', () => {
  let a: Appliance;
  let b: Appliance;

  beforeAll(async () => {
    const ca = createTestCa();
    [a, b] = await Promise.all([prepareAppliance('a.example', ca), prepareAppliance('b.example', ca)]);
    await Promise.all([a.start(), b.start()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.service?.stop(), b?.service?.stop()]);
  });

  it('links up once both sides imported each other card, and peer check passes every step', async () => {
    const dir = tempDir();
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const file = join(dir, `${from.domain}.card.json`);
      const exported = await from.cli(['card', 'export', '--out', file]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toMatch(/fingerprint ([a-z2-7]{4}-){5}[a-z2-7]{4}/);
      const imported = await to.cli(['card', 'import', file, '--yes']);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toContain(`added ${from.domain}`);
    }
    const [sa, sb] = [a.service!, b.service!];
    await waitFor(
      async () => (await metric(sa, linkUp('b.example', 'outbound'))) === 1 && (await metric(sb, linkUp('a.example', 'outbound'))) === 1,
      15_000,
      'links up',
    );
    expect(await metric(sa, linkUp('b.example', 'inbound'))).toBe(1);
    // Traffic is counted live, both directions, while the links are open.
    expect(await metric(sa, 'consulate_link_bytes_total{peer="b.example",direction="out"}')).toBeGreaterThan(0);
    expect(await metric(sa, 'consulate_link_bytes_total{peer="b.example",direction="in"}')).toBeGreaterThan(0);

    const check = await a.cli(['peer', 'check', 'b.example']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const lines = check.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('PASS')).map((l) => l.split(/\s+/)[1])).toEqual(['dns', 'tcp', 'tls', 'handshake', 'clock']);
    expect(check.stdout).toContain('all checks passed');
  }, 60_000);

  it('keeps the link through a key rotation, with both keys pinned during the grace period', async () => {
    const before = JSON.parse((await a.cli(['peer', 'show', 'b.example', '--json'])).stdout) as { keys: Array<{ publicKey: string }> };
    expect(before.keys).toHaveLength(1);
    const rotated = await b.cli(['keys', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    await waitFor(
      async () => {
        const peer = JSON.parse((await a.cli(['peer', 'show', 'b.example', '--json'])).stdout) as { keys: unknown[] };
        return peer.keys.length === 2;
      },
      15_000,
      'rotation pinned on a.example',
    );
    const after = JSON.parse((await a.cli(['peer', 'show', 'b.example', '--json'])).stdout) as {
      keys: Array<{ publicKey: string; notAfter: string | null; source: string }>;
    };
    const old = after.keys.find((k) => k.publicKey === before.keys[0]?.publicKey);
    const fresh = after.keys.find((k) => k.publicKey !== before.keys[0]?.publicKey);
    expect(old?.notAfter).not.toBeNull();
    expect(fresh).toMatchObject({ source: 'rotation', notAfter: null });
    // b re-dials with its new key, and a's check now handshakes with the new pin.
    await waitFor(async () => (await metric(b.service!, linkUp('a.example', 'outbound'))) === 1, 15_000, 'b re-linked');
    const check = await a.cli(['peer', 'check', 'b.example']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 60_000);

  it('fails peer check at the handshake step with key_mismatch when the pin is wrong', async () => {
    const impostorDir = tempDir();
    const impostor = await runCli([
      'init',
      '--data-dir',
      impostorDir,
      '--domain',
      'b.example',
      '--federation-public-url',
      `https://localhost:${b.federationPort}`,
    ]);
    expect(impostor.code, impostor.stderr).toBe(0);
    const file = join(impostorDir, 'card.json');
    expect((await runCli(['card', 'export', '--data-dir', impostorDir, '--out', file])).code).toBe(0);
    const refused = await a.cli(['card', 'import', file, '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('key_mismatch');
    const replaced = await a.cli(['card', 'import', file, '--yes', '--replace-key']);
    expect(replaced.code, replaced.stderr).toBe(0);
    const check = await a.cli(['peer', 'check', 'b.example']);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^PASS\s+tls/m);
    expect(check.stdout).toMatch(/^FAIL\s+handshake key_mismatch: /m);
    expect(check.stderr).toContain('key_mismatch: b.example failed at the handshake step');
  }, 60_000);
});
