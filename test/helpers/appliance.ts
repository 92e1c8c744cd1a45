import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCertStore } from '../../service/certs/local.js';
import type { CertMaterial, CertSlot } from '../../service/certs/store.js';
import { loadConfig } from '../../service/config/load.js';
import { runCli, startService, tempDir, type RunningService } from './service-process.js';
import type { TestCa } from './test-ca.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface Appliance {
  domain: string;
  dataDir: string;
  federationPort: number;
  service?: RunningService;
  cli(args: string[]): ReturnType<typeof runCli>;
  start(): Promise<RunningService>;
}

/** A data directory initialised like an operator would: config, certificate from the CA, trust anchor. */
export async function prepareAppliance(domain: string, ca: TestCa): Promise<Appliance> {
  const dataDir = tempDir(`consulate-${domain}-`);
  const federationPort = await freePort();
  writeFileSync(
    join(dataDir, 'config.json'),
    JSON.stringify({
      domain,
      admin: { port: 0 },
      home: { port: 0 },
      federation: { host: '127.0.0.1', port: federationPort, publicUrl: `https://localhost:${federationPort}`, caBundleFile: ca.caCertPath },
    }),
  );
  const { certPem, keyPem } = ca.issue(domain, ['DNS:localhost', 'IP:127.0.0.1']);
  await installCertificate(dataDir, { certChainPem: certPem, keyPem });
  const appliance: Appliance = {
    domain,
    dataDir,
    federationPort,
    cli: (args) => runCli([...args, '--data-dir', dataDir]),
    async start() {
      appliance.service = await startService(process.env['CONSULATE_TEST_DEBUG'] ? ['--log-level', 'debug'] : [], { dataDir });
      return appliance.service;
    },
  };
  const init = await appliance.cli(['init']);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  return appliance;
}

/** Installs into the appliance's certificate store, validated exactly as `consulate cert import` does. */
export async function installCertificate(dataDir: string, material: CertMaterial, slot: CertSlot = 'federation'): Promise<void> {
  const { config } = loadConfig({ dataDir, env: {} });
  await openCertStore(dataDir, config).install(slot, material);
}

/** Reads one series from /metrics. */
export async function metric(service: RunningService, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${service.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition', everyMs = 100): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
