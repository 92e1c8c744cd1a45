import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Service } from '../app.js';
import { ConsulateError } from '../errors.js';
import { createPrivateCa, issueServerCertificate } from '../certs/private-ca.js';
import { validateConfig } from '../config/load.js';
import { createCard } from '../federation/card.js';
import type { Logger } from '../telemetry/logger.js';
import { ReferenceHome } from './reference-client.js';

export interface DemoOptions {
  baseDir?: string | undefined;
  logger: Logger;
  print: (line: string) => void;
}

interface DemoSide {
  domain: string;
  dataDir: string;
  federationPort: number;
  service: Service;
  home: ReferenceHome;
  apiKey: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Two appliances, a.demo and b.demo, on loopback: a private CA issues their certificates,
 * their cards are exchanged, each home gets a demo user with real crypto_box keys.
 */
export class Demo {
  readonly sides = new Map<string, DemoSide>();
  readonly #o: DemoOptions;
  readonly baseDir: string;
  #caPath = '';

  constructor(options: DemoOptions) {
    this.#o = options;
    this.baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'consulate-demo-'));
  }

  side(domain: string): DemoSide {
    const side = this.sides.get(domain);
    if (!side) throw new Error(`no demo appliance ${domain}`);
    return side;
  }

  async start(): Promise<void> {
    const { print } = this.#o;
    mkdirSync(this.baseDir, { recursive: true });
    print(`demo data in ${this.baseDir}`);
    const ca = await createPrivateCa({ commonName: 'Consulate Demo CA', organization: 'Consulate demo' });
    this.#caPath = join(this.baseDir, 'demo-ca.crt');
    writeFileSync(this.#caPath, ca.certPem);
    print('✓ private CA created (air-gapped setup: peers trust it as their CA bundle)');
    for (const domain of ['a.demo', 'b.demo']) {
      const dataDir = join(this.baseDir, domain);
      mkdirSync(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
      const issued = await issueServerCertificate({ ca, hostnames: ['localhost', '127.0.0.1'], validityDays: 30 });
      writeFileSync(join(dataDir, 'tls', 'federation.crt'), issued.chainPem);
      writeFileSync(join(dataDir, 'tls', 'federation.key'), issued.keyPem ?? '', { mode: 0o600 });
      const side: DemoSide = {
        domain,
        dataDir,
        federationPort: await freePort(),
        service: undefined as unknown as Service,
        home: undefined as unknown as ReferenceHome,
        apiKey: '',
      };
      this.sides.set(domain, side);
      await this.startSide(domain);
      side.apiKey = side.service.apiKeys.create('demo home').key;
      side.home = new ReferenceHome(side.service.homeUrl, side.apiKey);
    }
    print('✓ appliances a.demo and b.demo started with certificates from the demo CA');
    const [a, b] = [this.side('a.demo'), this.side('b.demo')];
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const identity = (await from.service.localIdentities())[0];
      if (!identity) throw new Error('no identity');
      const card = await createCard(identity, { domain: from.domain, federationUrl: from.service.federationUrl });
      await to.service.whitelist.importCard(card, 'demo');
      print(`✓ ${to.domain} imported the card of ${from.domain} (fingerprint ${identity.fingerprint})`);
    }
    await Promise.all([a.service.links.waitForLink('b.demo', 15_000), b.service.links.waitForLink('a.demo', 15_000)]);
    print('✓ federation links up in both directions (TLS + Noise IK with pinned keys)');
    await a.home.addUser('alice@a.demo', 'Alice');
    await b.home.addUser('bob@b.demo', 'Bob');
    print('✓ demo users alice@a.demo and bob@b.demo published their public keys');
  }

  /** (Re)starts one appliance on its data directory and ports. */
  async startSide(domain: string): Promise<void> {
    const side = this.side(domain);
    side.service = new Service({
      config: validateConfig({
        domain,
        admin: { port: 0 },
        home: { port: 0 },
        federation: { host: '127.0.0.1', port: side.federationPort, publicUrl: `https://localhost:${side.federationPort}`, caBundleFile: this.#caPath },
      }),
      dataDir: side.dataDir,
      logger: this.#o.logger.child({ appliance: domain }),
      link: { backoff: { baseMs: 100, maxMs: 1000 } },
    });
    await side.service.start();
    if (side.home) side.home.baseUrl = side.service.homeUrl;
  }

  async stopSide(domain: string): Promise<void> {
    await this.side(domain).service.stop();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sides.values()].map((s) => s.service?.stop()));
  }
}

/** The scripted exchange; throws on the first step that does not hold. */
export async function smokeScenario(demo: Demo, print: (line: string) => void): Promise<void> {
  const a = demo.side('a.demo');
  const b = demo.side('b.demo');
  const step = (ok: boolean, text: string) => {
    if (!ok) throw new ConsulateError('demo_failed', `step failed: ${text}`);
    print(`✓ ${text}`);
  };
  const bob = await a.home.lookup('bob@b.demo');
  step(bob.status === 'found' && bob.displayName === 'Bob' && !!bob.keyBundle, 'alice looked up bob@b.demo through the federation and got his public key');

  const first = await a.home.send('alice@a.demo', 'bob@b.demo', 'Hello Bob, from Alice');
  let got = await b.home.receive('bob@b.demo', 1);
  step(
    got.length === 1 && got[0]?.id === first && got[0].text === 'Hello Bob, from Alice' && got[0].external && got[0].origin === 'a.demo',
    'bob received alice’s message once, marked external from a.demo, and decrypted it',
  );

  const reply = await b.home.send('bob@b.demo', 'alice@a.demo', 'Hi Alice!');
  got = await a.home.receive('alice@a.demo', 1);
  step(got.length === 1 && got[0]?.id === reply && got[0].text === 'Hi Alice!', 'alice received bob’s reply once and decrypted it');

  const oops = await a.home.send('alice@a.demo', 'bob@b.demo', 'sent to the wrong person');
  got = await b.home.receive('bob@b.demo', 1);
  const recall = await a.home.recall(oops, 'alice@a.demo');
  const recalled = await b.home.receive('bob@b.demo', 1);
  step(
    got[0]?.id === oops && recall.recallSentTo.includes('b.demo') && recalled[0]?.type === 'recall' && recalled[0].ref === oops,
    'alice recalled a delivered message; bob’s home got the recall event',
  );

  await demo.stopSide('b.demo');
  print('  (b.demo stopped)');
  const away = await a.home.send('alice@a.demo', 'bob@b.demo', 'While you were away');
  step(true, 'alice sent a message while b.demo was down; a.demo queued it durably');
  await demo.startSide('b.demo');
  print('  (b.demo restarted)');
  got = await b.home.receive('bob@b.demo', 1, 20_000);
  const extra = await b.home.receive('bob@b.demo', 1, 1500);
  step(
    got.length === 1 && got[0]?.id === away && got[0].text === 'While you were away' && extra.length === 0,
    'after the restart bob received the queued message exactly once and decrypted it',
  );
}
