import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Service, type ServiceOptions } from '../../service/app.js';
import { validateConfig } from '../../service/config/load.js';
import type { ConfigInput } from '../../service/config/schema.js';
import { createCard } from '../../service/federation/card.js';
import type { IdentityKey } from '../../service/identity/identity.js';
import { createLogger } from '../../service/telemetry/logger.js';
import { freePort } from './appliance.js';
import { tempDir } from './service-process.js';
import type { TestCa } from './test-ca.js';

/** An appliance in this process, with a certificate from the test CA and free ports. */
export async function inProcessAppliance(
  domain: string,
  ca: TestCa,
  options: { sans?: string[]; config?: Partial<ConfigInput>; link?: ServiceOptions['link'] } = {},
): Promise<Service> {
  const dataDir = tempDir();
  const port = await freePort();
  const { certPem, keyPem } = ca.issue(domain, options.sans ?? ['DNS:localhost', 'IP:127.0.0.1']);
  // The layout an operator's files had before the certificate store; the service adopts them at start.
  mkdirSync(join(dataDir, 'tls'), { recursive: true });
  writeFileSync(join(dataDir, 'tls', 'federation.crt'), certPem);
  writeFileSync(join(dataDir, 'tls', 'federation.key'), keyPem, { mode: 0o600 });
  const service = new Service({
    config: validateConfig({
      domain,
      admin: { port: 0 },
      home: { port: 0 },
      federation: { host: '127.0.0.1', port, publicUrl: `https://localhost:${port}`, caBundleFile: ca.caCertPath },
      ...options.config,
    }),
    dataDir,
    logger: createLogger({ level: 'silent' }),
    env: {},
    link: options.link ?? { backoff: { baseMs: 50, maxMs: 200 } },
  });
  await service.start();
  return service;
}

/** Both admins import each other's card; resolves when both links are up. */
export async function federate(a: Service, b: Service): Promise<void> {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const identity = (await from.localIdentities())[0] as IdentityKey;
    await to.whitelist.importCard(await createCard(identity, { domain: from.config.domain, federationUrl: from.federationUrl }), 'test');
  }
  await Promise.all([a.links.waitForLink(b.config.domain), b.links.waitForLink(a.config.domain)]);
}
