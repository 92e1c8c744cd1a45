import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { ConsulateError } from '../errors.js';
import { importCertificateBundle, type BundleFormat } from './bundle.js';
import { CertError } from './errors.js';
import { parsePem } from './pem.js';
import { CertStore, certSlots, type CertMaterial, type CertPolicy, type CertSlot } from './store.js';
import { trustAnchorsFrom } from './trust.js';

/**
 * What the CLI, the admin API and the running service share about this appliance's
 * certificates: where they live in the data directory, which hostnames and trust anchors
 * a slot is judged against, and how an import finds its private key.
 */

export function certStoreDir(dataDir: string): string {
  return join(dataDir, 'certs');
}

/** The organisation CA kept on the appliance (`consulate ca init` without `--ca-dir`). */
export function orgCaDir(dataDir: string): string {
  return join(dataDir, 'ca');
}

/** Keys made for a CSR wait here (mode 0600) until the signed certificate is imported. */
export function pendingKeyDir(dataDir: string): string {
  return join(certStoreDir(dataDir), 'pending');
}

/** `file-proxy` and `fileProxy` both name the file-proxy slot; the CLI accepts either. */
export function parseSlot(value: string | undefined): CertSlot {
  if (value === undefined || value === 'federation') return 'federation';
  if (value === 'fileProxy' || value === 'file-proxy') return 'fileProxy';
  throw new ConsulateError('bad_request', `unknown certificate slot "${value}"; use federation or file-proxy`);
}

export function slotLabel(slot: CertSlot): string {
  return slot === 'fileProxy' ? 'file-proxy' : 'federation';
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const host = new URL(url).hostname;
    return host.startsWith('[') ? host.slice(1, -1) : host;
  } catch {
    return undefined;
  }
}

/**
 * The names a slot's certificate must cover. The federation slot: `federation.hostname`,
 * or else the host of `federation.publicUrl`, because that is the name peers dial (it
 * is in this appliance's card). The file-proxy slot: `fileProxy.hostname`.
 */
export function slotHostnames(config: Config, slot: CertSlot): string[] {
  if (slot === 'fileProxy') return config.fileProxy.hostname ? [config.fileProxy.hostname] : [];
  const name = config.federation.hostname ?? hostOf(config.federation.publicUrl);
  return name ? [name] : [];
}

/** Default SANs for a new CSR or a certificate issued here: every public name of this appliance. */
export function applianceHostnames(config: Config): string[] {
  const names = [...slotHostnames(config, 'federation'), ...slotHostnames(config, 'fileProxy')];
  return [...new Set(names.map((name) => name.toLowerCase()))];
}

export function readAdminCaBundle(config: Config): string | undefined {
  const path = config.federation.caBundleFile;
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConsulateError('config_invalid', `federation.caBundleFile: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The organisation CA certificate in the data directory, if `consulate ca init` made one there. */
export function ownCaCertificate(dataDir: string): string | undefined {
  try {
    return readFileSync(join(orgCaDir(dataDir), 'ca.crt'), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Our own certificate is judged with the trust anchors peers are expected to have: the
 * system roots, the admin CA bundle (an enterprise CA) and this appliance's own
 * organisation CA, which peers add with `consulate peer set-ca`. Self-signed is an error:
 * a peer would refuse it. Read at every install, so a CA made later counts at once.
 */
export function certPolicy(dataDir: string, config: Config, adminCaBundlePem: string | undefined): (slot: CertSlot) => CertPolicy {
  return (slot) => {
    const own = ownCaCertificate(dataDir);
    const trustAnchors = [...trustAnchorsFrom({ adminCaBundlePem }), ...(own ? [own] : [])];
    return { hostnames: slotHostnames(config, slot), trustAnchors, allowSelfSigned: false };
  };
}

export function openCertStore(dataDir: string, config: Config, adminCaBundlePem: string | undefined = readAdminCaBundle(config)): CertStore {
  return new CertStore({ dir: certStoreDir(dataDir), policy: certPolicy(dataDir, config, adminCaBundlePem) });
}

function publicKeyId(keyPem: string): string {
  return createHash('sha256')
    .update(createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 32);
}

/** Keeps the key of a new CSR on the appliance, named after its public key. */
export async function savePendingKey(dataDir: string, keyPem: string): Promise<string> {
  const dir = pendingKeyDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${publicKeyId(keyPem)}.key`);
  await writeFile(path, keyPem, { mode: 0o600 });
  return path;
}

function leafOf(certChainPem: string): X509Certificate {
  const first = parsePem(certChainPem).find((block) => block.label === 'CERTIFICATE');
  if (!first) throw new CertError('bundle_empty', 'the input contains no certificate');
  return new X509Certificate(Buffer.from(first.der));
}

function matches(leaf: X509Certificate, keyPem: string): boolean {
  try {
    return leaf.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/**
 * The key for a certificate that came back from a CA without one: a pending CSR key, or
 * the key already serving another slot (the same certificate installed in both slots).
 */
export async function findKeyFor(dataDir: string, store: CertStore, certChainPem: string): Promise<{ keyPem: string; pendingPath?: string } | undefined> {
  const leaf = leafOf(certChainPem);
  const dir = pendingKeyDir(dataDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.key'))) {
    const keyPem = await readFile(join(dir, name), 'utf8').catch(() => '');
    if (keyPem && matches(leaf, keyPem)) return { keyPem, pendingPath: join(dir, name) };
  }
  for (const slot of certSlots) {
    const current = await store.current(slot).catch(() => undefined);
    if (current && matches(leaf, current.keyPem)) return { keyPem: current.keyPem };
  }
  return undefined;
}

export interface ImportInput {
  /** The file as it came from the CA: PEM, DER, PKCS#7 or PKCS#12 (bytes or text). */
  bundle: string | Uint8Array;
  /** A separate key file (PEM), for a CSR made elsewhere. */
  keyPem?: string | undefined;
  /** For PKCS#12 and encrypted PEM keys. */
  password?: string | undefined;
  /** Extra files with intermediates, for CAs that deliver them separately. */
  chain?: ReadonlyArray<string | Uint8Array> | undefined;
}

export interface PreparedImport {
  material: CertMaterial;
  format: BundleFormat;
  /** Set when the key came from a pending CSR; removed after a successful install. */
  pendingKeyPath?: string | undefined;
}

/** Reads the bundle, adds separate intermediates and finds the key; judging is left to the store. */
export async function prepareImport(dataDir: string, store: CertStore, input: ImportInput): Promise<PreparedImport> {
  const bundle = await importCertificateBundle(input.bundle, { password: input.password, keyPem: input.keyPem });
  let certChainPem = bundle.certChainPem;
  for (const extra of input.chain ?? []) certChainPem += (await importCertificateBundle(extra)).certChainPem;
  if (bundle.keyPem) return { material: { certChainPem, keyPem: bundle.keyPem }, format: bundle.format };
  const found = await findKeyFor(dataDir, store, certChainPem);
  if (!found) {
    throw new CertError(
      'key_missing',
      `no private key for "${bundle.leaf.subject}": pass the key file (--key), or import a PKCS#12 file that contains it; no CSR key made on this appliance matches`,
    );
  }
  return { material: { certChainPem, keyPem: found.keyPem }, format: bundle.format, pendingKeyPath: found.pendingPath };
}

export async function removePendingKey(path: string | undefined): Promise<void> {
  if (path) await unlink(path).catch(() => undefined);
}
