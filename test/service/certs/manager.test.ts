import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateCa, issueServerCertificate, type PrivateCa } from '../../../service/certs/index.js';
import { openCertStore } from '../../../service/certs/local.js';
import { CertManager, type CertificateEvent, type CertificateChange } from '../../../service/certs/manager.js';
import { validateConfig } from '../../../service/config/load.js';
import type { Config } from '../../../service/config/schema.js';
import { FederationListener } from '../../../service/federation/listener.js';
import { tlsPaths } from '../../../service/federation/tls-files.js';
import { createLogger } from '../../../service/telemetry/logger.js';
import { openConnection, servedCertificate } from './tls-probe.js';

const day = 86_400_000;
let ca: PrivateCa;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  ca = await createPrivateCa({ commonName: 'Manager Test CA' });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function configFor(extra: { fileProxy?: string } = {}): Config {
  return validateConfig({
    domain: 'a.example',
    federation: { host: '127.0.0.1', port: 0, hostname: 'fed.a.example' },
    fileProxy: extra.fileProxy ? { hostname: extra.fileProxy } : {},
  });
}

async function issue(hostnames: string[], validityDays?: number) {
  const issued = await issueServerCertificate({ ca, hostnames, validityDays });
  return { certChainPem: issued.chainPem, keyPem: issued.keyPem as string, fingerprint: issued.info.fingerprintSha256 };
}

interface Harness {
  dataDir: string;
  config: Config;
  manager: CertManager;
  registry: Registry;
  events: CertificateEvent[];
  changes: CertificateChange[];
  listener: () => FederationListener | undefined;
  readiness: { ready: boolean; detail: string };
  clock: { now: Date };
}

/** A manager wired to a real federation listener on loopback, as the service wires it. */
async function harness(options: { dataDir?: string; config?: Config; start?: boolean } = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'consulate-certmgr-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = options.config ?? configFor();
  const registry = new Registry();
  let listener: FederationListener | undefined;
  const clock = { now: new Date() };
  const h: Harness = {
    dataDir,
    config,
    registry,
    events: [],
    changes: [],
    listener: () => listener,
    readiness: { ready: false, detail: '' },
    clock,
    manager: new CertManager({
      dataDir,
      config,
      logger: createLogger({ level: 'silent' }),
      metrics: registry,
      adminCaBundlePem: ca.certPem,
      now: () => clock.now,
      watchMs: 50,
      listener: () => listener,
      startListener: async (tls) => {
        const created = new FederationListener({ host: '127.0.0.1', port: 0, logger: createLogger({ level: 'silent' }), defaultTls: tls });
        const port = await created.listen('127.0.0.1', 0);
        listener = created;
        return port;
      },
      readiness: (ready, detail) => {
        h.readiness = { ready, detail };
      },
    }),
  };
  h.manager.on('certificate', (event) => h.events.push(event));
  h.manager.on('changed', (change) => h.changes.push(change));
  cleanups.push(async () => {
    h.manager.stop();
    await listener?.close();
  });
  if (options.start !== false) await h.manager.start();
  return h;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('CertManager', () => {
  it('starts without a certificate, then starts the listener when another process (the CLI) installs one', async () => {
    const h = await harness();
    expect(h.listener()).toBeUndefined();
    expect(h.readiness).toMatchObject({ ready: false, detail: expect.stringContaining('consulate cert import') });
    expect(h.events).toEqual([expect.objectContaining({ slot: 'federation', state: 'missing', secondsToExpiry: null })]);
    expect(await h.registry.metrics()).toContain('consulate_certificate_state{slot="federation",state="missing"} 1');

    // A separate store object on the same directory, as `consulate cert import` in another process.
    const first = await issue(['fed.a.example']);
    await openCertStore(h.dataDir, h.config, ca.certPem).install('federation', first);
    await until(() => h.listener() !== undefined && h.readiness.ready, 'listener start');
    const port = h.listener()?.port as number;
    expect((await servedCertificate(port, 'fed.a.example')).fingerprint256).toBe(first.fingerprint);
    expect(h.events.at(-1)).toMatchObject({ slot: 'federation', state: 'ok' });
    expect(h.changes).toEqual([expect.objectContaining({ slot: 'federation', action: 'reload' })]);
    expect(tlsPaths(h.dataDir).cert).toContain(join('certs', 'federation'));
  });

  it('swaps the certificate for new connections while an established connection carries on', async () => {
    const h = await harness();
    const first = await issue(['fed.a.example']);
    await h.manager.install('federation', first);
    const port = h.listener()?.port as number;
    const open = await openConnection(port, 'fed.a.example');
    cleanups.push(() => open.close());
    expect(await open.get('/_consulate/v1/health')).toMatch(/^HTTP\/1\.1 200/);

    const second = await issue(['fed.a.example']);
    await openCertStore(h.dataDir, h.config, ca.certPem).install('federation', second);
    await until(async () => (await servedCertificate(port, 'fed.a.example')).fingerprint256 === second.fingerprint, 'new certificate served');
    // Clients that send no SNI (by IP address) get the new certificate too.
    expect((await servedCertificate(port)).fingerprint256).toBe(second.fingerprint);
    // The old connection is the same TLS session, still answering, still with the old certificate.
    expect(await open.get('/_consulate/v1/health')).toMatch(/^HTTP\/1\.1 200/);
    expect(open.socket.getPeerCertificate().fingerprint256).toBe(first.fingerprint);
    expect(await h.registry.metrics()).toContain('consulate_certificate_reloads_total{slot="federation"} 2');

    await h.manager.rollback('federation');
    expect((await servedCertificate(port, 'fed.a.example')).fingerprint256).toBe(first.fingerprint);
    expect(h.changes.map((c) => c.action)).toEqual(['install', 'reload', 'rollback']);
  });

  it('serves the file-proxy certificate by SNI for fileProxy.hostname, the federation one for every other name', async () => {
    const h = await harness({ config: configFor({ fileProxy: 'files.a.example' }) });
    const federation = await issue(['fed.a.example']);
    const files = await issue(['files.a.example']);
    await h.manager.install('federation', federation);
    await h.manager.install('fileProxy', files);
    const port = h.listener()?.port as number;
    expect((await servedCertificate(port, 'files.a.example')).fingerprint256).toBe(files.fingerprint);
    expect((await servedCertificate(port, 'fed.a.example')).fingerprint256).toBe(federation.fingerprint);
    const status = await h.manager.status();
    expect(status.map((s) => [s.slot, s.state, s.served, s.report?.summary.ok])).toEqual([
      ['federation', 'ok', true, true],
      ['fileProxy', 'ok', true, true],
    ]);
  });

  it('refuses an install that fails a check and keeps serving the certificate in use', async () => {
    const h = await harness();
    const good = await issue(['fed.a.example']);
    await h.manager.install('federation', good);
    const stateBefore = readFileSync(join(h.dataDir, 'certs', 'federation', 'state.json'));
    const wrongName = await issue(['other.example']);
    await expect(h.manager.install('federation', wrongName)).rejects.toMatchObject({ code: 'hostname_mismatch' });
    expect(readFileSync(join(h.dataDir, 'certs', 'federation', 'state.json'))).toEqual(stateBefore);
    expect((await servedCertificate(h.listener()?.port as number, 'fed.a.example')).fingerprint256).toBe(good.fingerprint);
  });

  it('warns at a third of the lifetime left and again when critical, with gauges per slot', async () => {
    const h = await harness();
    const cert = await issue(['fed.a.example'], 90);
    await h.manager.install('federation', cert);
    const notAfter = (await h.manager.status())[0]?.current?.info.notAfter as Date;
    expect(h.events.map((e) => e.state)).toEqual(['missing', 'ok']);

    h.clock.now = new Date(notAfter.getTime() - 20 * day);
    h.manager.checkExpiry();
    h.manager.checkExpiry();
    expect(h.events.map((e) => e.state)).toEqual(['missing', 'ok', 'warning']);
    expect(h.events.at(-1)?.message).toMatch(/expires on \d{4}-\d\d-\d\d, in 20 days; plan its renewal/);
    let metrics = await h.registry.metrics();
    expect(metrics).toContain(`consulate_certificate_expiry_seconds{slot="federation"} ${20 * 86_400}`);
    expect(metrics).toContain('consulate_certificate_state{slot="federation",state="warning"} 1');
    expect(metrics).toContain('consulate_certificate_state{slot="federation",state="ok"} 0');

    h.clock.now = new Date(notAfter.getTime() - 5 * day);
    h.manager.checkExpiry();
    h.clock.now = new Date(notAfter.getTime() + day);
    h.manager.checkExpiry();
    expect(h.events.slice(-2)).toEqual([
      expect.objectContaining({ state: 'critical', secondsToExpiry: 5 * 86_400 }),
      expect.objectContaining({ state: 'expired', secondsToExpiry: -86_400, message: expect.stringContaining('peers refuse to connect') }),
    ]);
    metrics = await h.registry.metrics();
    expect(metrics).toContain('consulate_certificate_expiry_seconds{slot="federation"} -86400');
  });

  it('moves a certificate from the pre-store tls/ files into the store, or keeps serving it when it fails a check', async () => {
    const writeLegacy = (dataDir: string, material: { certChainPem: string; keyPem: string }): void => {
      mkdirSync(join(dataDir, 'tls'), { recursive: true });
      writeFileSync(join(dataDir, 'tls', 'federation.crt'), material.certChainPem);
      writeFileSync(join(dataDir, 'tls', 'federation.key'), material.keyPem, { mode: 0o600 });
    };
    const valid = await issue(['fed.a.example']);
    const migrated = mkdtempSync(join(tmpdir(), 'consulate-legacy-'));
    writeLegacy(migrated, valid);
    const h = await harness({ dataDir: migrated });
    expect((await h.manager.store.current('federation'))?.info.fingerprintSha256).toBe(valid.fingerprint);
    expect((await servedCertificate(h.listener()?.port as number, 'fed.a.example')).fingerprint256).toBe(valid.fingerprint);

    const wrongName = await issue(['old-name.example']);
    const kept = mkdtempSync(join(tmpdir(), 'consulate-legacy-'));
    writeLegacy(kept, wrongName);
    const k = await harness({ dataDir: kept });
    expect(await k.manager.store.current('federation')).toBeUndefined();
    expect((await servedCertificate(k.listener()?.port as number, 'fed.a.example')).fingerprint256).toBe(wrongName.fingerprint);
    const [federation] = await k.manager.status();
    expect(federation).toMatchObject({ source: 'legacy', served: true, report: { summary: { ok: false } } });
    expect(federation?.report?.checks.find((c) => !c.ok)?.code).toBe('hostname_mismatch');
  });
});
