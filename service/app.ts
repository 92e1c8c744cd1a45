import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Router from '@koa/router';
import type { Registry } from 'prom-client';
import { startAdminServer, type AdminServer, type AdminState } from './admin/server.js';
import { SessionStore } from './admin/sessions.js';
import { statusResponse, type StatusResponse } from './admin/contract.js';
import type { Config } from './config/schema.js';
import { ConsulateError } from './errors.js';
import { federationRoutes } from './federation/admin-routes.js';
import { guiRoutes } from './admin/gui-routes.js';
import { FederationListener } from './federation/listener.js';
import { PeerStatusBoard } from './federation/peer-status.js';
import { CertManager } from './certs/manager.js';
import { certRoutes } from './certs/admin-routes.js';
import { backupRoutes } from './backup/admin-routes.js';
import { restoreBackup, type BackupPayload, type BackupSources, type RestoreResult } from './backup/backup.js';
import { Whitelist } from './federation/whitelist.js';
import { inboundHandlers } from './federation/inbound.js';
import { EnvelopeRouter } from './federation/router.js';
import { ApiKeys } from './home/api-keys.js';
import { Directory } from './home/directory.js';
import { HomeServer } from './home/server.js';
import { IdentityStore, type IdentityKey } from './identity/identity.js';
import { QueueStore } from './queue/queue-store.js';
import { EnvelopeArchive } from './compliance/archive.js';
import { resolveKek } from './identity/kek.js';
import { LinkManager, type FrameHandlers, type LinkManagerOptions } from './link/manager.js';
import { Checkpointer } from './store/checkpointer.js';
import { openStore, type Store } from './store/database.js';
import type { Logger } from './telemetry/logger.js';
import { createMetrics } from './telemetry/metrics.js';
import { version } from './version.js';

export interface ServiceOptions {
  config: Config;
  dataDir: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Handlers for federation requests (lookup, deliver, call.join) from the messaging layer. */
  frameHandlers?: FrameHandlers;
  /** How often to look for changes other processes (the CLI) made to the store (default 500 ms). */
  storePollMs?: number;
  /** Overrides for link timing, for tests. */
  link?: Partial<Pick<LinkManagerOptions, 'session' | 'backoff' | 'maxSkewMs' | 'keyGraceMs' | 'handshakeTimeoutMs'>>;
}

type Readiness = Record<string, { ready: boolean; detail?: string }>;

/** How long our own retired keys still open handshakes from peers that have not re-pinned. */
const ownKeyGraceMs = 7 * 86_400_000;

/**
 * One running appliance: its store, identity, whitelist, links and listeners. Several
 * can live in one process (tests, `consulate demo`): nothing here is a module singleton.
 */
export class Service {
  readonly config: Config;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly sessions = new SessionStore();
  readonly startedAt: Date;
  readonly peerStatus: PeerStatusBoard;
  #store: Store | undefined;
  #checkpointer: Checkpointer | undefined;
  #admin: AdminServer | undefined;
  #federation: FederationListener | undefined;
  #certs: CertManager | undefined;
  #links: LinkManager | undefined;
  #whitelist: Whitelist | undefined;
  #identities: IdentityStore | undefined;
  #identityCache: IdentityKey[] = [];
  #queue: QueueStore | undefined;
  #archive: EnvelopeArchive | undefined;
  #pruner: NodeJS.Timeout | undefined;
  #directory: Directory | undefined;
  #apiKeys: ApiKeys | undefined;
  #router: EnvelopeRouter | undefined;
  #home: HomeServer | undefined;
  #loginToken = '';
  #poll: NodeJS.Timeout | undefined;
  #dataVersion = -1;
  readonly #options: ServiceOptions;
  readonly #components: Readiness = {
    store: { ready: false },
    identity: { ready: false },
    federation: { ready: false },
    home: { ready: false },
    admin: { ready: false },
  };
  readonly #routes: Array<(router: Router<AdminState>) => void> = [];

  constructor(options: ServiceOptions) {
    this.#options = options;
    this.config = options.config;
    this.dataDir = options.dataDir;
    this.logger = options.logger;
    this.metrics = createMetrics();
    this.peerStatus = new PeerStatusBoard(this.metrics);
    this.startedAt = (options.now ?? (() => new Date()))();
    this.#routes.push((router) => {
      router.get('/status', (ctx) => {
        ctx.body = statusResponse.parse(this.status()) satisfies StatusResponse;
      });
    });
    this.#routes.push((router) => federationRoutes(router, this));
    this.#routes.push((router) => guiRoutes(router, this));
    this.#routes.push((router) => certRoutes(router, this, () => resolveKek(this.dataDir, this.#options.env ?? process.env)));
    this.#routes.push((router) => backupRoutes(router, this));
  }

  /** Adds admin API routes (behind the session check); call before start(). */
  addAdminRoutes(add: (router: Router<AdminState>) => void): void {
    this.#routes.push(add);
  }

  /** Readiness of each component, as /readyz reports it. */
  readiness(): Readiness {
    return { ...this.#components };
  }

  get store(): Store {
    if (!this.#store) throw new Error('service not started');
    return this.#store;
  }

  get whitelist(): Whitelist {
    if (!this.#whitelist) throw new Error('service not started');
    return this.#whitelist;
  }

  get links(): LinkManager {
    if (!this.#links) throw new Error('service not started');
    return this.#links;
  }

  get identities(): IdentityStore {
    if (!this.#identities) throw new Error('service not started');
    return this.#identities;
  }

  get queue(): QueueStore {
    if (!this.#queue) throw new Error('service not started');
    return this.#queue;
  }

  get directory(): Directory {
    if (!this.#directory) throw new Error('service not started');
    return this.#directory;
  }

  get apiKeys(): ApiKeys {
    if (!this.#apiKeys) throw new Error('service not started');
    return this.#apiKeys;
  }

  get router(): EnvelopeRouter {
    if (!this.#router) throw new Error('service not started');
    return this.#router;
  }

  get homeUrl(): string {
    return this.#home ? `http://${this.config.home.host.includes(':') ? `[${this.config.home.host}]` : this.config.home.host}:${this.#home.port}` : '';
  }

  get federation(): FederationListener | undefined {
    return this.#federation;
  }

  /** Certificates of the public listeners: status, install, rollback, and `certificate` expiry events. */
  get certificates(): CertManager | undefined {
    return this.#certs;
  }

  get adminUrl(): string {
    return this.#admin?.url ?? '';
  }

  /** The URL peers dial: configured, or derived from the federation host name and port. */
  get federationUrl(): string {
    const { publicUrl, hostname, port } = this.config.federation;
    if (publicUrl) return publicUrl.replace(/\/$/, '');
    const host = hostname ?? 'localhost';
    return `https://${host}:${this.#federation?.port || port}`;
  }

  /** The GUI link with the one-time token in the fragment, so it never reaches a server log. */
  get loginUrl(): string {
    return `${this.adminUrl}/#token=${this.#loginToken}`;
  }

  get loginToken(): string {
    return this.#loginToken;
  }

  status(): StatusResponse {
    return {
      version,
      domain: this.config.domain,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round(process.uptime()),
      node: process.versions.node,
      dataDir: this.dataDir,
      ready: Object.values(this.#components).every((c) => c.ready),
    };
  }

  /** The active identity key first, then our retired keys still in their grace period. */
  async localIdentities(): Promise<IdentityKey[]> {
    return this.#identityCache;
  }

  async start(): Promise<void> {
    try {
      const store = await openStore({ dataDir: this.dataDir, logger: this.logger });
      this.#store = store;
      if (this.config.storage.checkpointThread) this.#checkpointer = new Checkpointer(store, { logger: this.logger, metrics: this.metrics });
      this.#components['store'] = { ready: true, detail: `schema v${store.schemaVersion}` };

      this.#identities = new IdentityStore(store.db, resolveKek(this.dataDir, this.#options.env ?? process.env));
      if (!(await this.#identities.hasIdentity())) {
        const created = await this.#identities.create();
        this.logger.info({ fingerprint: created.fingerprint }, 'created this appliance identity key');
      }
      await this.#loadIdentities();
      this.#components['identity'] = { ready: true, detail: this.#identityCache[0]?.fingerprint ?? '' };

      this.#whitelist = new Whitelist(store.db, { ownDomain: this.config.domain });
      const compliance = this.config.compliance;
      const queue = new QueueStore(store.sqlite, { keepDeliveryRecords: compliance.metadataRetentionDays > 0 });
      if (compliance.archive.enabled) {
        this.#archive = new EnvelopeArchive(compliance.archive.dir ?? join(this.dataDir, 'archive'), {
          segmentBytes: compliance.archive.segmentMB * 1024 * 1024,
        });
      }
      const prune = () => {
        const now = Date.now();
        const pruned = queue.prune(now - compliance.dedupeHours * 3_600_000, now - compliance.metadataRetentionDays * 86_400_000);
        if (pruned.received || pruned.routed) this.logger.info(pruned, 'retention: old dedupe ids and delivery records deleted');
      };
      prune();
      this.#pruner = setInterval(prune, 3_600_000);
      this.#pruner.unref();
      this.#queue = queue;
      this.#directory = new Directory(store.sqlite, this.config.domain);
      this.#apiKeys = new ApiKeys(store.sqlite);
      this.#whitelist.onSever(async (domain) => {
        const purged = queue.purgePeer(domain);
        this.logger.info({ peer: domain, purged }, 'severed peer: its queue was purged');
      });
      const caBundleFile = this.config.federation.caBundleFile;
      const caBundle = caBundleFile ? [readCaBundle(caBundleFile)] : [];
      this.#links = new LinkManager({
        ownDomain: this.config.domain,
        whitelist: this.#whitelist,
        identities: () => this.localIdentities(),
        status: this.peerStatus,
        logger: this.logger.child({ component: 'link' }),
        caBundle: () => caBundle,
        handlers: this.#options.frameHandlers ?? {
          ...inboundHandlers({
            archive: this.#archive,
            ownDomain: this.config.domain,
            whitelist: this.#whitelist,
            directory: this.#directory,
            queue,
            status: this.peerStatus,
            logger: this.logger.child({ component: 'inbound' }),
            metrics: this.metrics,
            onStored: (inserted) => this.#home?.notify(inserted),
          }),
        },
        ...this.#options.link,
      });
      this.#whitelist.on('changed', () => void this.#links?.sync());

      // The certificate manager starts the listener once a certificate exists (now, or later from the CLI or GUI).
      this.#certs = new CertManager({
        dataDir: this.dataDir,
        config: this.config,
        logger: this.logger.child({ component: 'certs' }),
        metrics: this.metrics,
        adminCaBundlePem: caBundle[0],
        listener: () => this.#federation,
        startListener: async (tls) => {
          const { host, port } = this.config.federation;
          const listener = new FederationListener({ host, port, logger: this.logger, defaultTls: tls });
          this.#links?.attach(listener.server);
          const bound = await listener.listen(host, port);
          this.#federation = listener;
          return bound;
        },
        readiness: (ready, detail) => {
          this.#components['federation'] = { ready, detail };
        },
      });
      await this.#certs.start();
      this.#router = new EnvelopeRouter({
        archive: this.#archive,
        ownDomain: this.config.domain,
        queue,
        whitelist: this.#whitelist,
        links: this.#links,
        status: this.peerStatus,
        logger: this.logger.child({ component: 'router' }),
        metrics: this.metrics,
        isLocalUser: (user) => this.directory.has(user),
      });
      await this.#links.sync();
      this.#router.start();

      this.#home = new HomeServer({
        host: this.config.home.host,
        port: this.config.home.port,
        ownDomain: this.config.domain,
        logger: this.logger.child({ listener: 'home' }),
        apiKeys: this.#apiKeys,
        directory: this.#directory,
        queue,
        router: this.#router,
        whitelist: this.#whitelist,
        links: this.#links,
      });
      const homePort = await this.#home.listen();
      this.#components['home'] = { ready: true, detail: `${this.config.home.host}:${homePort}` };

      this.#loginToken = this.sessions.issueLoginToken();
      this.#admin = await startAdminServer({
        host: this.config.admin.host,
        port: this.config.admin.port,
        allowedHosts: this.config.admin.allowedHosts,
        logger: this.logger.child({ listener: 'admin' }),
        metrics: this.metrics,
        sessions: this.sessions,
        readiness: { readiness: () => ({ ...this.#components }) },
        routes: this.#routes,
      });
      this.#components['admin'] = { ready: true, detail: this.#admin.url };
      this.#dataVersion = store.sqlite.pragma('data_version', { simple: true }) as number;
      this.#poll = setInterval(() => void this.#checkStore(), this.#options.storePollMs ?? 500);
      this.#poll.unref();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Picks up what another process (the CLI) committed: whitelist edits, a rotated key. */
  async #checkStore(): Promise<void> {
    const store = this.#store;
    if (!store) return;
    const current = store.sqlite.pragma('data_version', { simple: true }) as number;
    if (current === this.#dataVersion) return;
    this.#dataVersion = current;
    await this.#reloadFromStore();
  }

  /** Re-reads keys, API keys, directory and whitelist from the store, announcing a rotation made elsewhere. */
  async #reloadFromStore(): Promise<void> {
    const before = this.#identityCache[0]?.id;
    await this.#loadIdentities();
    this.#apiKeys?.reload();
    this.#directory?.reload();
    this.#whitelist?.emit('changed', '*');
    const after = this.#identityCache[0];
    if (after && before && after.id !== before) {
      const previous = this.#identityCache.find((k) => k.id === before);
      if (previous) await this.announceRotation(previous, after);
    }
    await this.#links?.sync();
  }

  async #loadIdentities(): Promise<void> {
    const identities = this.identities;
    const active = await identities.active();
    const retired = (await identities.history()).filter(
      (k) => k.status === 'retired' && k.retiredAt !== null && Date.parse(k.retiredAt) + ownKeyGraceMs > Date.now(),
    );
    const unsealed = await Promise.all(retired.map((k) => identities.unseal(k.id)));
    this.#identityCache = [active, ...unsealed];
  }

  /** What a configuration backup reads from this running appliance. */
  backupSources(): BackupSources {
    return {
      store: this.store,
      identities: this.identities,
      dataDir: this.dataDir,
      consulateVersion: version,
      domain: this.config.domain,
      currentCertificate: async (slot) => this.#certs?.store.current(slot),
    };
  }

  /** Restores a configuration backup into the running appliance; ports, addresses and the domain need a restart. */
  async restore(payload: BackupPayload, passphrase: string, actor: string): Promise<RestoreResult> {
    const certs = this.#certs;
    const result = await restoreBackup(
      {
        ...this.backupSources(),
        actor,
        installCertificate: async (slot, material) => {
          if (!certs) throw new ConsulateError('not_ready', 'the certificate manager is not running yet', { status: 503 });
          await certs.install(slot, material);
        },
      },
      payload,
      passphrase,
    );
    // Our own transaction does not move data_version, so #checkStore would not see it.
    this.#dataVersion = this.store.sqlite.pragma('data_version', { simple: true }) as number;
    await this.#reloadFromStore();
    this.logger.warn(
      { actor, from: payload.domain, createdAt: payload.createdAt, savedAs: result.savedAs, skipped: result.certificatesSkipped },
      'configuration restored from a backup',
    );
    return result;
  }

  /** Rotates our identity key: peers are told over the current links, then links re-dial with the new key. */
  async rotateKey(actor: string): Promise<{ previous: IdentityKey; next: IdentityKey; told: string[] }> {
    const { previous, next } = await this.identities.rotate();
    await this.#loadIdentities();
    this.#dataVersion = this.store.sqlite.pragma('data_version', { simple: true }) as number;
    const told = await this.announceRotation(previous, next);
    this.logger.info({ actor, fingerprint: next.fingerprint, told }, 'identity key rotated');
    return { previous, next, told };
  }

  async announceRotation(previous: IdentityKey, next: IdentityKey): Promise<string[]> {
    const told = await this.links.announceRotation(previous, next);
    await this.links.sync();
    return told;
  }

  async stop(): Promise<void> {
    clearInterval(this.#poll);
    this.#certs?.stop();
    for (const component of Object.values(this.#components)) component.ready = false;
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close();
    this.#router?.stop();
    clearInterval(this.#pruner);
    this.#archive?.close();
    this.#archive = undefined;
    const home = this.#home;
    this.#home = undefined;
    await home?.close();
    const links = this.#links;
    this.#links = undefined;
    await links?.close();
    const federation = this.#federation;
    this.#federation = undefined;
    await federation?.close();
    try {
      // Acknowledged envelopes set aside for a joint delete: deleted now, before the database closes.
      // (If that fails, e.g. a locked database, the peer's and the home's acks are simply repeated after the restart.)
      this.#queue?.flushSettled();
      this.#queue?.flushHomeAcks();
    } finally {
      await this.#checkpointer?.stop();
      this.#checkpointer = undefined;
      const store = this.#store;
      this.#store = undefined;
      await store?.close();
    }
  }
}

function readCaBundle(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConsulateError('config_invalid', `federation.caBundleFile: cannot read ${path}: ${(error as Error).message}`);
  }
}
