import type Router from '@koa/router';
import type { Registry } from 'prom-client';
import { startAdminServer, type AdminServer, type AdminState } from './admin/server.js';
import { SessionStore } from './admin/sessions.js';
import { statusResponse, type StatusResponse } from './admin/contract.js';
import type { Config } from './config/schema.js';
import { openStore, type Store } from './store/database.js';
import type { Logger } from './telemetry/logger.js';
import { createMetrics } from './telemetry/metrics.js';
import { version } from './version.js';

export interface ServiceOptions {
  config: Config;
  dataDir: string;
  logger: Logger;
  now?: () => Date;
}

type Readiness = Record<string, { ready: boolean; detail?: string }>;

/**
 * One running appliance: its store, metrics and listeners. Several can live in one
 * process (tests, `consulate demo`), so nothing here is a module-level singleton.
 */
export class Service {
  readonly config: Config;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly sessions = new SessionStore();
  readonly startedAt: Date;
  #store: Store | undefined;
  #admin: AdminServer | undefined;
  #loginToken = '';
  readonly #components: Readiness = { store: { ready: false }, admin: { ready: false } };
  readonly #routes: Array<(router: Router<AdminState>) => void> = [];

  constructor(options: ServiceOptions) {
    this.config = options.config;
    this.dataDir = options.dataDir;
    this.logger = options.logger;
    this.metrics = createMetrics();
    this.startedAt = (options.now ?? (() => new Date()))();
    this.#routes.push((router) => {
      router.get('/status', (ctx) => {
        ctx.body = statusResponse.parse(this.status()) satisfies StatusResponse;
      });
    });
  }

  get store(): Store {
    if (!this.#store) throw new Error('service not started');
    return this.#store;
  }

  get adminUrl(): string {
    return this.#admin?.url ?? '';
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

  async start(): Promise<void> {
    try {
      this.#store = await openStore({ dataDir: this.dataDir, logger: this.logger });
      this.#components['store'] = { ready: true, detail: `schema v${this.#store.schemaVersion}` };
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
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    for (const component of Object.values(this.#components)) component.ready = false;
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close();
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }
}
