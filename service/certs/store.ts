import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCertificates } from './bundle.js';
import { certificateInfo, type CertificateInfo, type ParsedCertificate } from './certificate.js';
import { CertError } from './errors.js';
import { privateKeyToPem, readPrivateKey } from './keys.js';
import { firstError, validateCertificate, type ValidationReport } from './validate.js';

export type CertSlot = 'federation' | 'fileProxy';

export const certSlots: readonly CertSlot[] = ['federation', 'fileProxy'];

/** What a certificate in a slot must satisfy; usually derived from the listener configuration. */
export interface CertPolicy {
  hostnames?: readonly string[] | undefined;
  /** PEM texts; see `trustAnchorsFrom`. */
  trustAnchors?: readonly string[] | undefined;
  allowSelfSigned?: boolean | undefined;
}

export interface CertMaterial {
  /** Leaf first is not required; the stored chain is reordered and trimmed to what TLS serves. */
  certChainPem: string;
  keyPem: string;
  keyPassword?: string | undefined;
}

export interface CertStoreOptions {
  /** Directory owned by the service, e.g. `<data-dir>/certs`. Created with mode 0700. */
  dir: string;
  now?: (() => Date) | undefined;
  /** Per-slot requirements, read at each install and rollback so configuration changes apply. */
  policy?: ((slot: CertSlot) => CertPolicy | Promise<CertPolicy>) | undefined;
  /** Encrypts the PEM key before it is written; the store never writes a plain key when set. */
  wrapKey?: ((keyPem: Uint8Array) => Uint8Array | Promise<Uint8Array>) | undefined;
  unwrapKey?: ((wrapped: Uint8Array) => Uint8Array | Promise<Uint8Array>) | undefined;
}

export interface InstalledCertificate {
  slot: CertSlot;
  /** Generation id, also the directory name. */
  id: string;
  installedAt: Date;
  certChainPem: string;
  keyPem: string;
  info: CertificateInfo;
}

export interface SlotStatus {
  current: StoredMeta | undefined;
  previous: StoredMeta | undefined;
}

export interface StoredMeta {
  id: string;
  installedAt: Date;
  keyWrapped: boolean;
  info: CertificateInfo;
}

interface SlotState {
  version: 1;
  current: string | null;
  previous: string | null;
}

interface MetaFile {
  version: 1;
  installedAt: string;
  keyWrapped: boolean;
}

const slotDirs: Record<CertSlot, string> = { federation: 'federation', fileProxy: 'file-proxy' };
const stateFile = 'state.json';
const chainFile = 'chain.pem';
const plainKeyFile = 'key.pem';
const wrappedKeyFile = 'key.wrapped';
const metaFile = 'meta.json';

function assertSlot(slot: string): asserts slot is CertSlot {
  if (!(certSlots as readonly string[]).includes(slot)) throw new CertError('store_io', `unknown certificate slot "${slot}"; use federation or fileProxy`);
}

function ioError(action: string, path: string, error: unknown): CertError {
  return new CertError('store_io', `cannot ${action} ${path}: ${(error as Error).message}`, { cause: error });
}

/** Write to a temporary name, flush, then rename: a reader sees the old file or the new one, never half. */
async function writeAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw ioError('write', path, error);
  }
}

/** Makes renames in `dir` durable; not supported on every platform, and only an extra guarantee. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open directories for fsync; the rename itself is still atomic there.
  }
}

/** Where the store keeps a slot's state file: its mtime changes on every install and rollback. */
export function slotStatePath(dir: string, slot: CertSlot): string {
  return join(dir, slotDirs[slot], stateFile);
}

/**
 * The files of a slot's current generation, read synchronously, for callers that only
 * need a path (a status page showing the served chain). Undefined when the slot is empty
 * or its state cannot be read; `CertStore.current` reports such problems.
 */
export function currentFilesSync(dir: string, slot: CertSlot): { dir: string; chain: string; key: string } | undefined {
  try {
    const state = JSON.parse(readFileSync(slotStatePath(dir, slot), 'utf8')) as SlotState;
    if (state.version !== 1 || !state.current) return undefined;
    const generation = join(dir, slotDirs[slot], state.current);
    return { dir: generation, chain: join(generation, chainFile), key: join(generation, plainKeyFile) };
  } catch {
    return undefined;
  }
}

/**
 * Filesystem store for the federation and file-proxy certificates. Each install goes into
 * its own generation directory; `state.json` names the current and previous generation and
 * is replaced atomically, which is the single commit point. A certificate that fails
 * validation never reaches the disk, so the one in use stays untouched.
 */
export class CertStore {
  readonly dir: string;
  readonly #now: () => Date;
  readonly #policy: (slot: CertSlot) => CertPolicy | Promise<CertPolicy>;
  readonly #wrapKey: CertStoreOptions['wrapKey'];
  readonly #unwrapKey: CertStoreOptions['unwrapKey'];
  readonly #locks = new Map<CertSlot, Promise<unknown>>();

  constructor(options: CertStoreOptions) {
    this.dir = options.dir;
    this.#now = options.now ?? (() => new Date());
    this.#policy = options.policy ?? (() => ({}));
    this.#wrapKey = options.wrapKey;
    this.#unwrapKey = options.unwrapKey;
  }

  /** Serialises changes per slot so two admin requests cannot interleave their renames. */
  #exclusive<T>(slot: CertSlot, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(slot) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.#locks.set(
      slot,
      next.catch(() => undefined),
    );
    return next;
  }

  #slotDir(slot: CertSlot): string {
    return join(this.dir, slotDirs[slot]);
  }

  async #readState(slot: CertSlot): Promise<SlotState> {
    const path = join(this.#slotDir(slot), stateFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, current: null, previous: null };
      throw ioError('read', path, error);
    }
    try {
      const state = JSON.parse(text) as SlotState;
      if (state.version !== 1) throw new Error(`unknown version ${String(state.version)}`);
      return state;
    } catch (error) {
      // Never guess: a damaged state file is reported, not reset, so no certificate is lost.
      throw ioError('parse', path, error);
    }
  }

  async #writeState(slot: CertSlot, state: SlotState): Promise<void> {
    const dir = this.#slotDir(slot);
    await writeAtomic(join(dir, stateFile), `${JSON.stringify(state, null, 2)}\n`, 0o600);
    await syncDir(dir);
  }

  async #policyFor(slot: CertSlot, overrides: CertPolicy | undefined): Promise<CertPolicy> {
    return { ...(await this.#policy(slot)), ...overrides };
  }

  async #validate(slot: CertSlot, chainPem: string, keyPem: string, keyPassword: string | undefined, overrides?: CertPolicy): Promise<ValidationReport> {
    const policy = await this.#policyFor(slot, overrides);
    return validateCertificate({
      leafAndChain: chainPem,
      privateKey: keyPem,
      privateKeyPassword: keyPassword,
      hostnames: policy.hostnames,
      trustAnchors: policy.trustAnchors,
      allowSelfSigned: policy.allowSelfSigned,
      now: this.#now(),
    });
  }

  /**
   * Validates, then installs as the slot's current certificate and keeps the one it
   * replaces for `rollback`. Throws the first blocking problem as a CertError (its
   * `details.checks` holds the whole report) and leaves the slot as it was.
   */
  async install(slot: CertSlot, material: CertMaterial, overrides?: CertPolicy): Promise<{ installed: InstalledCertificate; report: ValidationReport }> {
    assertSlot(slot);
    const report = await this.#validate(slot, material.certChainPem, material.keyPem, material.keyPassword, overrides);
    const problem = firstError(report);
    if (problem) throw problem;
    const keyPem = privateKeyToPem(readPrivateKey(material.keyPem, { password: material.keyPassword }));
    return this.#exclusive(slot, async () => {
      const dir = this.#slotDir(slot);
      const installedAt = this.#now();
      const id = `${installedAt.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
      const generation = join(dir, id);
      try {
        await mkdir(generation, { recursive: true, mode: 0o700 });
      } catch (error) {
        throw ioError('create', generation, error);
      }
      const wrapped = this.#wrapKey !== undefined;
      const keyBytes = wrapped ? await (this.#wrapKey as NonNullable<CertStoreOptions['wrapKey']>)(Buffer.from(keyPem, 'utf8')) : Buffer.from(keyPem, 'utf8');
      await writeAtomic(join(generation, wrapped ? wrappedKeyFile : plainKeyFile), keyBytes, 0o600);
      await writeAtomic(join(generation, chainFile), report.chainPem, 0o644);
      const meta: MetaFile = { version: 1, installedAt: installedAt.toISOString(), keyWrapped: wrapped };
      await writeAtomic(join(generation, metaFile), `${JSON.stringify(meta, null, 2)}\n`, 0o644);
      await syncDir(generation);
      const state = await this.#readState(slot);
      await this.#writeState(slot, { version: 1, current: id, previous: state.current });
      await this.#sweep(slot, [id, state.current]);
      const installed = await this.#load(slot, id);
      return { installed, report };
    });
  }

  /** The certificate and key a listener should serve, or undefined when the slot is empty. */
  async current(slot: CertSlot): Promise<InstalledCertificate | undefined> {
    assertSlot(slot);
    const state = await this.#readState(slot);
    return state.current ? this.#load(slot, state.current) : undefined;
  }

  /** Metadata only, without touching (or unwrapping) the keys; for status pages. */
  async status(slot: CertSlot): Promise<SlotStatus> {
    assertSlot(slot);
    const state = await this.#readState(slot);
    return {
      current: state.current ? await this.#meta(slot, state.current) : undefined,
      previous: state.previous ? await this.#meta(slot, state.previous) : undefined,
    };
  }

  /**
   * Makes the previous certificate current again (and the current one previous, so a
   * second rollback undoes the first). The previous one is validated like an install;
   * `force` skips that, for the moment when the new certificate is worse than an old one.
   */
  async rollback(slot: CertSlot, options: { force?: boolean } = {}): Promise<{ installed: InstalledCertificate; report: ValidationReport }> {
    assertSlot(slot);
    return this.#exclusive(slot, async () => {
      const state = await this.#readState(slot);
      if (!state.previous) throw new CertError('no_previous', `there is no previous ${slot} certificate to roll back to`);
      const candidate = await this.#load(slot, state.previous);
      const report = await this.#validate(slot, candidate.certChainPem, candidate.keyPem, undefined);
      const problem = firstError(report);
      if (problem && !options.force) throw problem;
      await this.#writeState(slot, { version: 1, current: state.previous, previous: state.current });
      return { installed: candidate, report };
    });
  }

  async #meta(slot: CertSlot, id: string): Promise<StoredMeta> {
    const generation = join(this.#slotDir(slot), id);
    try {
      const meta = JSON.parse(await readFile(join(generation, metaFile), 'utf8')) as MetaFile;
      const [leaf] = parseCertificates(await readFile(join(generation, chainFile), 'utf8'));
      return { id, installedAt: new Date(meta.installedAt), keyWrapped: meta.keyWrapped, info: certificateInfo(leaf as ParsedCertificate) };
    } catch (error) {
      if (error instanceof CertError) throw error;
      throw ioError('read', generation, error);
    }
  }

  async #load(slot: CertSlot, id: string): Promise<InstalledCertificate> {
    const generation = join(this.#slotDir(slot), id);
    const meta = await this.#meta(slot, id);
    let certChainPem: string;
    let keyBytes: Uint8Array;
    try {
      certChainPem = await readFile(join(generation, chainFile), 'utf8');
      keyBytes = await readFile(join(generation, meta.keyWrapped ? wrappedKeyFile : plainKeyFile));
    } catch (error) {
      throw ioError('read', generation, error);
    }
    if (meta.keyWrapped) {
      if (!this.#unwrapKey) throw new CertError('key_locked', `the ${slot} key is wrapped and no unwrap function is configured`);
      keyBytes = await this.#unwrapKey(keyBytes);
    }
    return { slot, id, installedAt: meta.installedAt, certChainPem, keyPem: Buffer.from(keyBytes).toString('utf8'), info: meta.info };
  }

  /** Removes generations that are neither current nor previous, including ones a crash left half-written. */
  async #sweep(slot: CertSlot, keep: ReadonlyArray<string | null>): Promise<void> {
    const dir = this.#slotDir(slot);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory() && !keep.includes(entry.name)) await rm(join(dir, entry.name), { recursive: true, force: true }).catch(() => undefined);
      else if (entry.isFile() && entry.name.endsWith('.tmp')) await unlink(join(dir, entry.name)).catch(() => undefined);
    }
  }
}
