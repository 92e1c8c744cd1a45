import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Server as TlsServer } from 'node:tls';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { TlsMaterial } from '../federation/listener.js';
import { legacyTlsPaths, readLegacyTlsMaterial } from '../federation/tls-files.js';
import type { Logger } from '../telemetry/logger.js';
import type { CertificateInfo } from './certificate.js';
import { describeCertificate } from './describe.js';
import { CertError, isCertError } from './errors.js';
import { expiryState, type ExpiryState, type ExpiryStatus } from './expiry.js';
import { certPolicy, certStoreDir, openCertStore, slotHostnames, slotLabel } from './local.js';
import { certSlots, slotStatePath, type CertMaterial, type CertSlot, type CertStore, type InstalledCertificate, type StoredMeta } from './store.js';
import { validateCertificate, type ValidationReport } from './validate.js';

/** `missing`: no certificate, so the listener for that slot cannot serve TLS. */
export type CertSlotState = ExpiryState | 'missing';

/** What the GUI and the desktop shell show (and notify) about a certificate. */
export interface CertificateEvent {
  slot: CertSlot;
  state: CertSlotState;
  /** Negative once expired; null when there is no certificate. */
  secondsToExpiry: number | null;
  message: string;
}

export interface CertificateChange {
  slot: CertSlot;
  /** `install`/`rollback` through this service, `reload` when another process (the CLI) changed the store. */
  action: 'install' | 'rollback' | 'reload' | 'migrate';
  info: CertificateInfo;
}

export interface CertManagerEvents {
  certificate: [event: CertificateEvent];
  changed: [change: CertificateChange];
}

/** The part of the federation listener that certificates are handed to. */
export interface TlsTarget {
  setCertificate(tls: TlsMaterial, hostname?: string): void;
  readonly server: Pick<TlsServer, 'setSecureContext'>;
  close?(): Promise<void>;
}

export interface CertManagerOptions {
  dataDir: string;
  config: Config;
  logger: Logger;
  /** Registry for the expiry gauges; none in tools that only read the store. */
  metrics?: Registry | undefined;
  /** Contents of `federation.caBundleFile`, already read by the service. */
  adminCaBundlePem?: string | undefined;
  now?: (() => Date) | undefined;
  /** Expiry check interval; default one hour (the check also runs at start and after every change). */
  expiryCheckMs?: number | undefined;
  /** How often to look for installs made by another process (the CLI); default 1 s. */
  watchMs?: number | undefined;
  /** The running federation listener, if it was started. */
  listener: () => TlsTarget | undefined;
  /** Starts the federation listener with its first certificate and resolves with the bound port. */
  startListener: (tls: TlsMaterial) => Promise<number>;
  /** Federation readiness as /readyz reports it. */
  readiness?: ((ready: boolean, detail: string) => void) | undefined;
}

interface Loaded {
  /** `legacy`: the pre-store `tls/federation.crt` that failed the checks, served as before. */
  source: 'store' | 'legacy';
  id: string;
  info: CertificateInfo;
  material: TlsMaterial;
}

export interface SlotView {
  slot: CertSlot;
  /** Names the certificate must cover, from the configuration. */
  hostnames: string[];
  source: 'store' | 'legacy' | 'none';
  /** The listener serves this certificate now. */
  served: boolean;
  state: CertSlotState;
  expiry: ExpiryStatus | null;
  current: (StoredMeta & { info: CertificateInfo }) | null;
  previous: StoredMeta | null;
  /** Validation of the served certificate against today's configuration and trust anchors. */
  report: ValidationReport | null;
  /** Why the report could not be made (e.g. a damaged store). */
  problem: string | null;
}

const hour = 3_600_000;
const noCertificateHint = 'no certificate installed: run `consulate cert import` or `consulate ca issue --install` (see docs/certificates.md)';

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * Keeps the federation listener's certificates in step with the certificate store:
 * serves the current generation of each slot, swaps it in without a restart when it
 * changes (here or through the CLI), starts the listener when the first certificate
 * arrives, and watches expiry (gauges, log lines and `certificate` events).
 */
export class CertManager extends EventEmitter<CertManagerEvents> {
  readonly store: CertStore;
  readonly #options: CertManagerOptions;
  readonly #now: () => Date;
  readonly #loaded = new Map<CertSlot, Loaded>();
  readonly #stamps = new Map<CertSlot, string>();
  readonly #lastState = new Map<CertSlot, CertSlotState>();
  readonly #reloads: Counter<'slot'> | undefined;
  #serial: Promise<unknown> = Promise.resolve();
  #watch: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #watchBusy = false;
  #watchProblem = '';
  #listenerProblem = '';
  #stopped = false;

  constructor(options: CertManagerOptions) {
    super();
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.store = openCertStore(options.dataDir, options.config, options.adminCaBundlePem);
    const registry = options.metrics;
    if (!registry) return;
    const loaded = this.#loaded;
    const now = this.#now;
    const relevant = (): CertSlot[] => this.#relevantSlots();
    new Gauge({
      name: 'consulate_certificate_expiry_seconds',
      help: 'Seconds until the served certificate of each slot expires (negative once expired).',
      labelNames: ['slot'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [slot, entry] of loaded) this.set({ slot }, Math.floor((entry.info.notAfter.getTime() - now().getTime()) / 1000));
      },
    });
    new Gauge({
      name: 'consulate_certificate_state',
      help: 'Expiry state of each certificate slot: 1 for the current state (ok, warning, critical, expired, missing), 0 for the others.',
      labelNames: ['slot', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const slot of relevant()) {
          const entry = loaded.get(slot);
          const current: CertSlotState = entry ? expiryState(entry.info.notBefore, entry.info.notAfter, now()).state : 'missing';
          for (const state of ['ok', 'warning', 'critical', 'expired', 'missing'] as const) this.set({ slot, state }, state === current ? 1 : 0);
        }
      },
    });
    this.#reloads = new Counter({
      name: 'consulate_certificate_reloads_total',
      help: 'Certificates swapped into the running listener without a restart, by slot.',
      labelNames: ['slot'],
      registers: [registry],
    });
  }

  /** Loads (and if needed migrates) the certificates, starts the listener when there is one, and begins watching. */
  async start(): Promise<void> {
    await this.#migrate();
    for (const slot of certSlots) await this.#exclusive(() => this.#reload(slot, 'start'));
    if (!this.#loaded.has('federation')) {
      this.#options.readiness?.(false, noCertificateHint);
      this.#options.logger.warn('federation listener not started: no certificate installed (see docs/certificates.md)');
    }
    this.checkExpiry();
    this.#watch = setInterval(() => void this.#tick(), this.#options.watchMs ?? 1000);
    this.#watch.unref();
    this.#expiryTimer = setInterval(() => this.checkExpiry(), this.#options.expiryCheckMs ?? hour);
    this.#expiryTimer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#watch);
    clearInterval(this.#expiryTimer);
  }

  /** The material the listener serves for a slot, or undefined. */
  material(slot: CertSlot): TlsMaterial | undefined {
    return this.#loaded.get(slot)?.material;
  }

  /** Validates and installs, then serves it at once; throws the CertError of the first failed check. */
  async install(slot: CertSlot, material: CertMaterial): Promise<{ installed: InstalledCertificate; report: ValidationReport }> {
    // One step under the lock, so the store watcher cannot pick the change up first as a `reload`.
    return this.#exclusive(async () => {
      const result = await this.store.install(slot, material);
      await this.#reload(slot, 'install');
      return result;
    });
  }

  async rollback(slot: CertSlot, options: { force?: boolean } = {}): Promise<{ installed: InstalledCertificate; report: ValidationReport }> {
    return this.#exclusive(async () => {
      const result = await this.store.rollback(slot, options);
      await this.#reload(slot, 'rollback');
      return result;
    });
  }

  /** The validation report of the certificate served in a slot, judged as an install would be today. */
  async check(slot: CertSlot): Promise<{ info: CertificateInfo; source: Loaded['source']; report: ValidationReport }> {
    const loaded = this.#loaded.get(slot);
    if (!loaded) throw new CertError('cert_missing', `no ${slotLabel(slot)} certificate is installed`);
    const policy = certPolicy(this.#options.dataDir, this.#options.config, this.#options.adminCaBundlePem)(slot);
    const report = await validateCertificate({
      leafAndChain: loaded.material.certChainPem,
      privateKey: loaded.material.keyPem,
      hostnames: policy.hostnames,
      trustAnchors: policy.trustAnchors,
      allowSelfSigned: policy.allowSelfSigned,
      now: this.#now(),
    });
    return { info: loaded.info, source: loaded.source, report };
  }

  /** Status of both slots for the admin API and `consulate cert show`. */
  async status(): Promise<SlotView[]> {
    const views: SlotView[] = [];
    for (const slot of certSlots) {
      const loaded = this.#loaded.get(slot);
      let stored: Awaited<ReturnType<CertStore['status']>> = { current: undefined, previous: undefined };
      let problem: string | null = null;
      try {
        stored = await this.store.status(slot);
      } catch (error) {
        problem = (error as Error).message;
      }
      let report: ValidationReport | null = null;
      if (loaded) {
        try {
          report = (await this.check(slot)).report;
        } catch (error) {
          problem = (error as Error).message;
        }
      }
      const expiry = loaded ? expiryState(loaded.info.notBefore, loaded.info.notAfter, this.#now()) : null;
      const current = loaded?.source === 'legacy' ? { id: 'legacy', installedAt: new Date(0), keyWrapped: false, info: loaded.info } : (stored.current ?? null);
      views.push({
        slot,
        hostnames: slotHostnames(this.#options.config, slot),
        source: loaded?.source ?? 'none',
        served:
          loaded !== undefined && this.#options.listener() !== undefined && (slot === 'federation' || this.#options.config.fileProxy.hostname !== undefined),
        state: expiry?.state ?? 'missing',
        expiry,
        current,
        previous: stored.previous ?? null,
        report,
        problem,
      });
    }
    return views;
  }

  /** Runs the expiry check now: logs, and emits `certificate` for every slot whose state changed. */
  checkExpiry(): CertificateEvent[] {
    const events: CertificateEvent[] = [];
    for (const slot of this.#relevantSlots()) {
      const event = this.#expiryEvent(slot);
      events.push(event);
      const log = this.#options.logger;
      const fields = { slot, state: event.state, secondsToExpiry: event.secondsToExpiry };
      // A missing certificate is logged once at start, where it also explains the stopped listener.
      if (event.state === 'warning') log.warn(fields, event.message);
      else if (event.state === 'critical' || event.state === 'expired') log.error(fields, event.message);
      if (this.#lastState.get(slot) !== event.state) {
        this.#lastState.set(slot, event.state);
        this.emit('certificate', event);
      }
    }
    return events;
  }

  /** The file-proxy slot counts once it has a certificate of its own; until then the federation one serves it. */
  #relevantSlots(): CertSlot[] {
    return certSlots.filter((slot) => slot === 'federation' || this.#loaded.has(slot));
  }

  #expiryEvent(slot: CertSlot): CertificateEvent {
    const loaded = this.#loaded.get(slot);
    const label = slotLabel(slot);
    if (!loaded) {
      return {
        slot,
        state: 'missing',
        secondsToExpiry: null,
        message: `No ${label} certificate is installed, so peers cannot connect; ${noCertificateHint.replace(/^no certificate installed: /, '')}.`,
      };
    }
    const { state, secondsToExpiry } = expiryState(loaded.info.notBefore, loaded.info.notAfter, this.#now());
    const days = Math.floor(secondsToExpiry / 86_400);
    const until = isoDay(loaded.info.notAfter);
    const messages: Record<ExpiryState, string> = {
      ok: `The ${label} certificate expires on ${until}, in ${days} days.`,
      warning: `The ${label} certificate expires on ${until}, in ${days} days; plan its renewal.`,
      critical: `The ${label} certificate expires in ${days} days (${until}); renew it now or peers will refuse to connect.`,
      expired: `The ${label} certificate expired on ${until}; peers refuse to connect until a new one is installed.`,
    };
    return { slot, state, secondsToExpiry, message: messages[state] };
  }

  /** Runs store-to-listener work one at a time, so a CLI change and a GUI change cannot interleave. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(work, work);
    this.#serial = next.catch(() => undefined);
    return next;
  }

  async #stamp(slot: CertSlot): Promise<string> {
    try {
      // The store replaces state.json by rename, so the inode changes even within one mtime tick.
      const info = await stat(slotStatePath(certStoreDir(this.#options.dataDir), slot));
      return `${info.ino}:${info.mtimeMs}:${info.size}`;
    } catch {
      return 'none';
    }
  }

  async #tick(): Promise<void> {
    if (this.#watchBusy || this.#stopped) return;
    this.#watchBusy = true;
    try {
      for (const slot of certSlots) {
        if ((await this.#stamp(slot)) !== this.#stamps.get(slot)) await this.#exclusive(() => this.#reload(slot, 'reload'));
      }
      const federation = this.#loaded.get('federation');
      // A listener that could not bind (port taken) is retried until it can.
      if (federation && this.#listenerProblem && !this.#options.listener()) await this.#exclusive(() => this.#serve('federation', federation, false));
      this.#watchProblem = '';
    } catch (error) {
      const message = (error as Error).message;
      // A damaged store is reported once, not every second; the certificate in use keeps serving.
      if (message !== this.#watchProblem) this.#options.logger.error({ err: error }, `certificate store check failed: ${message}`);
      this.#watchProblem = message;
    } finally {
      this.#watchBusy = false;
    }
  }

  /** Moves a certificate from before the store (`tls/federation.crt|.key`) into it, once. */
  async #migrate(): Promise<void> {
    const legacy = readLegacyTlsMaterial(this.#options.dataDir);
    if (!legacy || (await this.store.status('federation')).current) return;
    const logger = this.#options.logger;
    try {
      const { installed } = await this.store.install('federation', legacy);
      logger.info(
        { from: legacyTlsPaths(this.#options.dataDir).cert, fingerprint: installed.info.fingerprintSha256 },
        'moved the federation certificate into the certificate store',
      );
    } catch (error) {
      if (!isCertError(error)) throw error;
      // It was served before this version; refusing it now would take federation down on upgrade.
      const [info] = describeCertificate(legacy.certChainPem);
      if (!info) throw error;
      this.#loaded.set('federation', { source: 'legacy', id: 'legacy', info, material: legacy });
      logger.warn(
        { code: error.code, file: legacyTlsPaths(this.#options.dataDir).cert },
        `the federation certificate from tls/federation.crt fails a check (${error.code}: ${error.message}); still serving it until a valid one is imported`,
      );
    }
  }

  async #reload(slot: CertSlot, reason: 'start' | 'reload' | 'install' | 'rollback'): Promise<void> {
    if (this.#stopped) return;
    // Stamp first: a change that lands while we read is then seen by the next tick.
    this.#stamps.set(slot, await this.#stamp(slot));
    const current = await this.store.current(slot);
    const before = this.#loaded.get(slot);
    if (!current || before?.id === current.id) {
      if (reason === 'start' && before) await this.#serve(slot, before, true);
      return;
    }
    const entry: Loaded = { source: 'store', id: current.id, info: current.info, material: { certChainPem: current.certChainPem, keyPem: current.keyPem } };
    await this.#serve(slot, entry, reason === 'start');
    this.#loaded.set(slot, entry);
    if (reason !== 'start') {
      this.#reloads?.inc({ slot });
      const action = reason === 'reload' ? 'reload' : reason;
      this.#options.logger.info(
        { slot, action, subject: current.info.subject, fingerprint: current.info.fingerprintSha256, notAfter: current.info.notAfter.toISOString() },
        `new ${slotLabel(slot)} certificate in use for new connections; established links continue`,
      );
      this.emit('changed', { slot, action, info: current.info });
      this.checkExpiry();
    }
  }

  /** Hands a certificate to the listener, starting it for the first federation certificate. */
  async #serve(slot: CertSlot, entry: Loaded, startup: boolean): Promise<void> {
    const { config, logger } = this.#options;
    const listener = this.#options.listener();
    if (slot === 'fileProxy') {
      if (!config.fileProxy.hostname) {
        logger.info('a file-proxy certificate is installed but fileProxy.hostname is not set, so it is not served');
        return;
      }
      listener?.setCertificate(entry.material, config.fileProxy.hostname);
      return;
    }
    if (listener) {
      listener.setCertificate(entry.material);
      // Clients that send no SNI (connecting by IP address) get the server's own context, not the SNI one.
      listener.server.setSecureContext({ cert: entry.material.certChainPem, key: entry.material.keyPem, minVersion: 'TLSv1.2' });
      return;
    }
    try {
      const port = await this.#options.startListener(entry.material);
      if (this.#stopped) {
        await this.#options.listener()?.close?.();
        return;
      }
      this.#listenerProblem = '';
      this.#options.readiness?.(true, `${config.federation.host}:${port}`);
      const fileProxy = this.#loaded.get('fileProxy');
      if (fileProxy && config.fileProxy.hostname) this.#options.listener()?.setCertificate(fileProxy.material, config.fileProxy.hostname);
      if (!startup) logger.info({ port }, 'federation listener started with the newly installed certificate');
    } catch (error) {
      // At start a listener that cannot bind fails the service, as before; later it is reported.
      if (startup) throw error;
      const message = `federation listener could not start: ${(error as Error).message}`;
      if (message !== this.#listenerProblem) logger.error({ err: error }, message);
      this.#listenerProblem = message;
      this.#options.readiness?.(false, message);
    }
  }
}
