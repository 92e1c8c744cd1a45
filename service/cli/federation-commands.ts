import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor, confirm, out } from './io.js';
import { ConsulateError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { cardToText, createCard, parseCard, verifyCard } from '../federation/card.js';
import { checkPeer, type DoctorStep } from '../federation/doctor.js';
import { Whitelist, type Capabilities, type Peer } from '../federation/whitelist.js';
import { ApiKeys } from '../home/api-keys.js';
import { IdentityStore } from '../identity/identity.js';
import { resolveKek } from '../identity/kek.js';
import { openStore, type Store } from '../store/database.js';
import { createLogger } from '../telemetry/logger.js';
import { resolveDataDir } from './data-dir.js';

interface GlobalOptions {
  dataDir?: string;
  config?: string;
}

interface Local {
  config: Config;
  dataDir: string;
  store: Store;
  identities: IdentityStore;
  whitelist: Whitelist;
}

/** Opens this appliance's store directly: works whether or not `consulate serve` runs (it picks changes up). */
export async function withLocal<T>(command: Command, run: (local: Local) => Promise<T>): Promise<T> {
  const global = command.optsWithGlobals() as GlobalOptions;
  const dataDir = resolveDataDir(global.dataDir);
  if (!existsSync(dataDir)) throw new ConsulateError('data_dir_missing', `no appliance in ${dataDir}; run \`consulate init\` first or pass --data-dir`);
  const { config } = loadConfig({ dataDir, configFile: global.config, env: process.env });
  const store = await openStore({ dataDir, logger: createLogger({ level: 'warn', destination: process.stderr }) });
  try {
    const identities = new IdentityStore(store.db, resolveKek(dataDir));
    return await run({ config, dataDir, store, identities, whitelist: new Whitelist(store.db, { ownDomain: config.domain }) });
  } finally {
    await store.close();
  }
}

function readCardFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConsulateError('card_unreadable', `cannot read card file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function federationUrl(config: Config): string {
  const { publicUrl, hostname, port } = config.federation;
  return publicUrl ?? `https://${hostname ?? 'localhost'}:${port}`;
}

function parseCapabilities(list: string | undefined): Partial<Capabilities> | undefined {
  if (!list) return undefined;
  const names = list.split(',').map((s) => s.trim());
  const known = ['lookup', 'messages', 'files', 'calls'] as const;
  for (const name of names)
    if (!(known as readonly string[]).includes(name)) throw new ConsulateError('bad_request', `unknown capability "${name}" (known: ${known.join(', ')})`);
  return Object.fromEntries(known.map((k) => [k, names.includes(k)])) as Capabilities;
}

function printPeer(peer: Peer): void {
  out(`${peer.domain}  [${peer.state}]`);
  out(`  federation   ${peer.federationUrl}`);
  if (peer.fileProxyUrl) out(`  file proxy   ${peer.fileProxyUrl}`);
  if (peer.relay) out(`  relay        ${peer.relay}`);
  out(
    `  capabilities ${Object.entries(peer.capabilities)
      .map(([k, v]) => `${k}:${v ? 'on' : 'off'}`)
      .join(' ')}`,
  );
  for (const key of peer.keys) out(`  pinned key   ${key.fingerprint}  (${key.source}${key.notAfter ? `, until ${key.notAfter}` : ''})`);
  if (peer.note) out(`  note         ${peer.note}`);
  out(`  added        ${peer.addedAt} by ${peer.addedBy}`);
}

export function printDoctorStep(step: DoctorStep): void {
  out(`${step.ok ? 'PASS' : 'FAIL'}  ${step.step.padEnd(9)} ${step.ok ? '' : `${step.code}: `}${step.message} (${step.ms} ms)`);
}

export function addFederationCommands(program: Command): void {
  const card = program.command('card').description('federation cards: what peers import to whitelist this appliance');
  card
    .command('export')
    .description('write this appliance card (signed) as a JSON file and print its one-line text form')
    .option('--out <file>', 'also write the card as JSON to this file')
    .option('--valid-days <n>', 'days until the card expires', '30')
    .action(async (options: { out?: string; validDays: string }, command: Command) =>
      withLocal(command, async ({ config, identities }) => {
        const validDays = Number(options.validDays);
        if (!Number.isInteger(validDays) || validDays < 1 || validDays > 365)
          throw new ConsulateError('bad_request', '--valid-days must be a whole number from 1 to 365');
        const identity = await identities.active();
        const signed = await createCard(identity, { domain: config.domain, federationUrl: federationUrl(config) }, { validDays });
        if (options.out) writeFileSync(options.out, `${JSON.stringify(signed, null, 2)}\n`);
        out(`card for ${signed.domain}, expires ${signed.expires}`);
        out(`fingerprint ${identity.fingerprint}`);
        if (options.out) out(`written to ${options.out}`);
        out(cardToText(signed));
      }),
    );
  card
    .command('import')
    .description('verify a peer card (file or text), show its fingerprint, and whitelist the peer after confirmation')
    .argument('<card>', 'a card JSON file, or the consulate-card:… text')
    .option('--yes', 'do not ask: the fingerprint was confirmed out of band')
    .option('--replace-key', 'accept a new key for a peer already whitelisted with another key')
    .option('--capabilities <list>', 'comma-separated: lookup,messages,files,calls (default lookup,messages)')
    .option('--note <text>', 'free-text note')
    .action(async (input: string, options: { yes?: boolean; replaceKey?: boolean; capabilities?: string; note?: string }, command: Command) =>
      withLocal(command, async ({ whitelist }) => {
        const text = input.trim().startsWith('consulate-card:') || input.trim().startsWith('{') ? input : readCardFile(input);
        const { card: verified, fingerprint } = await verifyCard(parseCard(text));
        out(`peer        ${verified.domain}`);
        out(`federation  ${verified.federationUrl}`);
        out(`expires     ${verified.expires}`);
        out(`fingerprint ${fingerprint}`);
        if (!options.yes) {
          out('Compare this fingerprint with the peer administrator (phone, in person) before trusting it.');
          const ok = await confirm(`Trust ${verified.domain} with this key? Type "yes": `, 'yes');
          if (!ok) throw new ConsulateError('confirmation_required', 'not confirmed: nothing was changed (use --yes in scripts)');
        }
        const capabilities = parseCapabilities(options.capabilities);
        const { peer, created } = await whitelist.importCard(verified, cliActor, {
          ...(options.replaceKey ? { replaceKey: true } : {}),
          ...(capabilities ? { capabilities } : {}),
          ...(options.note ? { note: options.note } : {}),
        });
        out(`${created ? 'added' : 'updated'} ${peer.domain}; traffic flows once ${peer.domain} has whitelisted this appliance too`);
      }),
    );

  const peer = program.command('peer').description('the whitelist of peer appliances');
  peer
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }, command: Command) =>
      withLocal(command, async ({ whitelist }) => {
        const peers = await whitelist.list();
        if (options.json) return out(JSON.stringify(peers, null, 2));
        if (peers.length === 0) return out('no peers yet: import a card with `consulate card import`');
        for (const p of peers) out(`${p.domain.padEnd(32)} ${p.state.padEnd(10)} ${p.keys.map((k) => k.fingerprint).join(', ')}`);
      }),
    );
  peer
    .command('show')
    .argument('<domain>')
    .option('--json', 'machine-readable output')
    .action(async (domain: string, options: { json?: boolean }, command: Command) =>
      withLocal(command, async ({ whitelist }) => {
        const found = await whitelist.require(domain);
        if (options.json) out(JSON.stringify(found, null, 2));
        else printPeer(found);
      }),
    );
  peer
    .command('add')
    .description('whitelist a peer by hand (prefer `card import`, which checks a signature)')
    .requiredOption('--domain <domain>')
    .requiredOption('--federation-url <url>')
    .requiredOption('--key <publicKey>', 'the peer identity public key (base64url)')
    .option('--ca-bundle <file>', 'PEM trust anchors used only for this peer')
    .option('--capabilities <list>', 'comma-separated: lookup,messages,files,calls')
    .option('--note <text>')
    .action(
      async (options: { domain: string; federationUrl: string; key: string; caBundle?: string; capabilities?: string; note?: string }, command: Command) =>
        withLocal(command, async ({ whitelist }) => {
          const added = await whitelist.add(
            {
              domain: options.domain,
              federationUrl: options.federationUrl,
              publicKey: options.key,
              caBundle: options.caBundle ? readFileSync(options.caBundle, 'utf8') : null,
              capabilities: parseCapabilities(options.capabilities),
              note: options.note,
            },
            cliActor,
          );
          printPeer(added);
        }),
    );
  for (const [name, state, verb] of [
    ['suspend', 'suspended', 'suspended: links refused, queues kept'],
    ['resume', 'active', 'active again'],
  ] as const) {
    peer
      .command(name)
      .argument('<domain>')
      .action(async (domain: string, _options: unknown, command: Command) =>
        withLocal(command, async ({ whitelist }) => {
          const updated = await whitelist.setState(domain, state, cliActor);
          out(`${updated.domain} ${verb}`);
        }),
      );
  }
  peer
    .command('set-ca')
    .description('set (or with no file, clear) the CA bundle used only for this peer TLS certificate')
    .argument('<domain>')
    .argument('[file]')
    .action(async (domain: string, file: string | undefined, _options: unknown, command: Command) =>
      withLocal(command, async ({ whitelist }) => {
        await whitelist.update(domain, { caBundle: file ? readFileSync(file, 'utf8') : null }, cliActor);
        out(file ? `trust anchors for ${domain} set from ${file}` : `trust anchors for ${domain} cleared`);
      }),
    );
  peer
    .command('remove')
    .description('sever: remove the peer and purge everything queued for it')
    .argument('<domain>')
    .option('--yes', 'do not ask')
    .action(async (domain: string, options: { yes?: boolean }, command: Command) =>
      withLocal(command, async ({ whitelist }) => {
        const found = await whitelist.require(domain);
        if (!options.yes) {
          out(`Severing ${found.domain} removes it from the whitelist and deletes everything queued for it.`);
          const ok = await confirm(`Type the domain (${found.domain}) to confirm: `, found.domain);
          if (!ok) throw new ConsulateError('confirmation_required', 'not confirmed: nothing was changed');
        }
        await whitelist.remove(found.domain, cliActor, found.domain);
        out(`${found.domain} severed`);
      }),
    );
  peer
    .command('check')
    .description('diagnose the link to a peer step by step: DNS, TCP, TLS, Noise handshake, clock skew')
    .argument('<domain>')
    .action(async (domain: string, _options: unknown, command: Command) =>
      withLocal(command, async ({ whitelist, identities, config }) => {
        const found = await whitelist.require(domain);
        const caBundle = config.federation.caBundleFile ? [readFileSync(config.federation.caBundleFile, 'utf8')] : [];
        const steps = await checkPeer({ peer: found, ownDomain: config.domain, identity: await identities.active(), caBundle, onStep: printDoctorStep });
        const failed = steps.find((s) => !s.ok);
        if (failed) throw new ConsulateError(failed.code ?? 'internal', `${found.domain} failed at the ${failed.step} step`);
        out(`${found.domain}: all checks passed`);
      }),
    );

  const apikey = program.command('apikey').description('API keys for the home messaging server (home API)');
  apikey
    .command('create')
    .argument('<name>', 'what the key is for, e.g. "home server"')
    .action(async (name: string, _options: unknown, command: Command) =>
      withLocal(command, async ({ store }) => {
        const { key, info } = new ApiKeys(store.sqlite).create(name);
        process.stderr.write(`API key ${info.id} (${info.name}) created; it is shown once, store it now:\n`);
        out(key);
      }),
    );
  apikey.command('list').action(async (_options: unknown, command: Command) =>
    withLocal(command, async ({ store }) => {
      for (const k of new ApiKeys(store.sqlite).list())
        out(`${k.id}  ${k.name.padEnd(24)} created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}`);
    }),
  );
  apikey
    .command('revoke')
    .argument('<id>')
    .action(async (id: string, _options: unknown, command: Command) =>
      withLocal(command, async ({ store }) => {
        new ApiKeys(store.sqlite).revoke(id);
        out(`API key ${id} revoked`);
      }),
    );

  const keys = program.command('keys').description('this appliance identity key');
  keys.command('show').action(async (_options: unknown, command: Command) =>
    withLocal(command, async ({ identities }) => {
      for (const key of await identities.history())
        out(`${key.fingerprint}  ${key.status.padEnd(8)} created ${key.createdAt}${key.retiredAt ? `, retired ${key.retiredAt}` : ''}`);
    }),
  );
  keys
    .command('rotate')
    .description('make a new identity key; a running service announces it to connected peers, signed by the old key')
    .action(async (_options: unknown, command: Command) =>
      withLocal(command, async ({ identities }) => {
        const { previous, next } = await identities.rotate();
        out(`new key ${next.fingerprint} (was ${previous.fingerprint})`);
        out('a running `consulate serve` announces it to connected peers within a second; peers keep the old key pinned for 7 days');
      }),
    );
}
