import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type Router from '@koa/router';
import type { Service } from '../app.js';
import { expiryState } from '../certs/expiry.js';
import { configSchema } from '../config/schema.js';
import { ConsulateError } from '../errors.js';
import { tlsPaths } from '../federation/tls-files.js';
import { appendAudit, listAudit, verifyAuditChain } from '../store/audit.js';
import {
  setPasswordRequest,
  settingsUpdateRequest,
  type AuditResponse,
  type InstalledCertificateView,
  type ListenerView,
  type LiveSnapshot,
  type LoginInfoResponse,
  type LogsResponse,
  type PeerLive,
  type SettingsResponse,
  type SetupResponse,
} from './contract.js';
import { AdminEventHub, type Send } from './event-hub.js';
import { LogTail } from './log-tail.js';
import { hashPassword, passwordMetaKey, readPasswordHash, verifyPassword } from './password.js';
import { parseBody, type AdminState } from './server.js';
import { differences, savedConfig, saveSettings, settingsPath, settingsView } from './settings-file.js';
import type { Session } from './sessions.js';
import { setupDoneKey, setupStartedKey } from './setup-state.js';

const actor = 'admin (GUI)';
const placeholderDomain = configSchema.parse({}).domain;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Paths a session may use while a mandatory password is still missing: what the wizard needs. */
const passwordSetupPaths = [
  /^\/api\/session$/,
  /^\/api\/setup(\/|$)/,
  /^\/api\/password$/,
  /^\/api\/settings$/,
  /^\/api\/status$/,
  /^\/api\/live$/,
  /^\/api\/events$/,
  /^\/api\/identity$/,
];
/** Trust changes wait for the first-run wizard, so a half-configured appliance cannot federate by accident. */
const trustChange = /^\/api\/(peers(\/|$)|identity\/rotate$)/;

interface CertCache {
  mtimeMs: number;
  view: InstalledCertificateView | null;
  problem: string | null;
}

/**
 * The admin API behind the GUI: login page info, the admin password, first-run setup,
 * settings, the live snapshot and event stream, the audit trail and the log tail.
 */
export function guiRoutes(router: Router<AdminState>, service: Service): void {
  const db = () => service.store.db;
  const dataDir = service.dataDir;
  // Decided once, when the listener starts: an appliance set up with `consulate init`, or given
  // its domain on the command line, has done what the wizard does.
  const configFileAtStart = existsSync(settingsPath(dataDir));
  const passwordRequired = !isLoopbackHost(service.config.admin.host);
  const logs = new LogTail(service.logger);
  let certCache: CertCache | undefined;

  const meta = async (key: string) => (await db().selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst())?.value;
  const setMeta = (key: string, value: string) =>
    db()
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();

  async function setupCompletedAt(): Promise<string | null> {
    const done = await meta(setupDoneKey);
    if (done) return done;
    const preconfigured = (configFileAtStart && !(await meta(setupStartedKey))) || service.config.domain !== placeholderDomain;
    return preconfigured ? service.startedAt.toISOString() : null;
  }

  function certificate(): CertCache {
    const { cert } = tlsPaths(dataDir);
    if (!existsSync(cert)) return { mtimeMs: 0, view: null, problem: null };
    const mtimeMs = statSync(cert).mtimeMs;
    if (certCache?.mtimeMs === mtimeMs) {
      // Parsed once per file; the time-dependent fields are recomputed on every read.
      const view = certCache.view;
      if (view) {
        view.daysLeft = Math.floor((Date.parse(view.notAfter) - Date.now()) / 86_400_000);
        view.state = expiryState(new Date(view.notBefore), new Date(view.notAfter), new Date()).state;
      }
      return certCache;
    }
    try {
      const x509 = new X509Certificate(readFileSync(cert));
      const notAfter = new Date(x509.validTo);
      const notBefore = new Date(x509.validFrom);
      certCache = {
        mtimeMs,
        problem: null,
        view: {
          subject: x509.subject.replace(/\n/g, ', '),
          issuer: x509.issuer.replace(/\n/g, ', '),
          sans: (x509.subjectAltName ?? '').split(/,\s*/).filter(Boolean),
          notBefore: notBefore.toISOString(),
          notAfter: notAfter.toISOString(),
          daysLeft: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
          fingerprintSha256: x509.fingerprint256,
          selfSigned: x509.checkIssued(x509),
          state: expiryState(notBefore, notAfter, new Date()).state,
        },
      };
    } catch (error) {
      certCache = { mtimeMs, view: null, problem: `cannot read ${cert}: ${(error as Error).message}` };
    }
    return certCache;
  }

  const passwordSet = async () => (await readPasswordHash(db())) !== undefined;

  // The file (and environment) as they were when this process started: a later difference is
  // what a restart would apply. Flags are not visible here, so running-vs-file differences
  // that existed from the start are reported as overrides, not as pending changes.
  const readSaved = () => {
    try {
      return settingsView(savedConfig(dataDir));
    } catch {
      return undefined;
    }
  };
  const savedAtStart = readSaved();
  const restartPending = (saved = readSaved()): string[] => (saved && savedAtStart ? differences(savedAtStart, saved) : []);
  const settingsBody = (): SettingsResponse => {
    const running = settingsView(service.config);
    const saved = settingsView(savedConfig(dataDir));
    const pending = restartPending(saved);
    return {
      running,
      saved,
      configFile: settingsPath(dataDir),
      restartRequired: pending.length > 0,
      pending,
      overridden: savedAtStart ? differences(savedAtStart, running) : [],
    };
  };

  service.sessions.setPolicy({
    async checkPassword(candidate) {
      const stored = await readPasswordHash(db());
      return stored === undefined ? undefined : verifyPassword(candidate, stored);
    },
    async refusal({ method, path }) {
      if (passwordRequired && !passwordSetupPaths.some((p) => p.test(path)) && !(await passwordSet())) {
        return {
          code: 'password_required',
          status: 403,
          message: `the admin listener is bound to ${service.config.admin.host}, beyond loopback: set an admin password first`,
        };
      }
      if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && trustChange.test(path) && !(await setupCompletedAt())) {
        return { code: 'setup_required', status: 409, message: 'finish the first-run setup before changing peers or keys' };
      }
      return undefined;
    },
    async loggedIn(method, address) {
      await appendAudit(db(), { actor: `admin (${method === 'token' ? 'login token' : 'password'}, ${address})`, action: 'admin.login', target: '' });
    },
  });

  async function peersLive(): Promise<PeerLive[]> {
    const peers = await service.whitelist.list();
    return peers.map((p) => {
      const { domain: _domain, ...status } = service.peerStatus.get(p.domain);
      return { domain: p.domain, state: p.state, ...status };
    });
  }

  function listeners(): ListenerView[] {
    const components = service.readiness();
    const { config } = service;
    const federation = components['federation'];
    // The home API arrives with the messaging layer; until it reports readiness it is "not in this build".
    const home = components['home'];
    return [
      {
        name: 'admin',
        state: service.adminUrl ? 'up' : 'down',
        address: service.adminUrl || `${config.admin.host}:${config.admin.port}`,
        detail: 'admin API and this GUI',
      },
      {
        name: 'federation',
        state: federation?.ready ? 'up' : 'down',
        address: federation?.ready ? (federation.detail ?? '') : `${config.federation.host}:${config.federation.port}`,
        detail: federation?.ready ? `peers dial ${service.federationUrl}` : (federation?.detail ?? 'not started'),
      },
      { name: 'fileProxy', state: 'unavailable', address: config.fileProxy.hostname ?? '', detail: 'The file proxy is not part of this build yet.' },
      { name: 'relay', state: 'unavailable', address: `${config.relay.host}:${config.relay.port}`, detail: 'The media relay is not part of this build yet.' },
      home
        ? {
            name: 'home',
            state: home.ready ? 'up' : 'down',
            address: home.detail ?? `${config.home.host}:${config.home.port}`,
            detail: home.ready ? 'the home messaging server connects here' : 'not started',
          }
        : { name: 'home', state: 'unavailable', address: `${config.home.host}:${config.home.port}`, detail: 'The home API is not part of this build yet.' },
    ];
  }

  async function snapshot(): Promise<LiveSnapshot> {
    return {
      at: new Date().toISOString(),
      status: service.status(),
      components: service.readiness(),
      listeners: listeners(),
      peers: await peersLive(),
      passwordSet: await passwordSet(),
      passwordRequired,
      restartRequired: restartPending().length > 0,
      certificate: certificate().view,
      unknownDialers: service.links.unknownDialers.list(),
      fingerprint: (await service.localIdentities())[0]?.fingerprint ?? null,
    };
  }

  const peerStates = new Map<string, PeerLive['state']>();
  const hub = new AdminEventHub({
    snapshot: async () => {
      const s = await snapshot();
      peerStates.clear();
      for (const p of s.peers) peerStates.set(p.domain, p.state);
      return s;
    },
    onPeerChange(listener) {
      service.peerStatus.on('change', listener);
      return () => service.peerStatus.off('change', listener);
    },
    onWhitelistChange(listener) {
      service.whitelist.on('changed', listener);
      return () => service.whitelist.off('changed', listener);
    },
    ...(logs.available
      ? {
          onLog(listener) {
            logs.on('entry', listener);
            return () => logs.off('entry', listener);
          },
        }
      : {}),
    peerState: (domain) => peerStates.get(domain),
  });

  router.get('/login-info', async (ctx) => {
    const [identity] = await service.localIdentities();
    ctx.body = {
      domain: service.config.domain,
      fingerprint: identity?.fingerprint ?? '',
      passwordSet: await passwordSet(),
      passwordRequired,
    } satisfies LoginInfoResponse;
  });

  router.post('/password', async (ctx) => {
    const body = parseBody(setPasswordRequest, ctx.request.body);
    const stored = await readPasswordHash(db());
    // A session opened with the one-time token may reset a forgotten password: that token is
    // only in this machine's service log, so whoever has it already controls the appliance.
    const viaToken = (ctx.state.session as Session).via === 'token';
    if (stored !== undefined && !viaToken) {
      if (!body.current) throw new ConsulateError('password_invalid', 'give the current password to change it', { status: 401 });
      if (!(await verifyPassword(body.current, stored))) throw new ConsulateError('password_invalid', 'the current password is wrong', { status: 401 });
    }
    const hash = await hashPassword(body.password);
    await db()
      .transaction()
      .execute(async (trx) => {
        await trx
          .insertInto('meta')
          .values({ key: passwordMetaKey, value: hash })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: hash }))
          .execute();
        await appendAudit(trx, { actor, action: stored ? 'admin.password_change' : 'admin.password_set', target: '' });
      });
    service.logger.info(stored ? 'admin password changed' : 'admin password set');
    ctx.status = 204;
  });

  router.get('/setup', async (ctx) => {
    const [identity] = await service.localIdentities();
    let saved: string | null;
    try {
      saved = savedConfig(dataDir).domain;
    } catch {
      saved = null;
    }
    const completedAt = await setupCompletedAt();
    const cert = certificate();
    ctx.body = {
      complete: completedAt !== null,
      completedAt,
      steps: {
        identity: { done: identity !== undefined, fingerprint: identity?.fingerprint ?? '' },
        domain: { done: service.config.domain !== placeholderDomain || (saved !== null && saved !== placeholderDomain), running: service.config.domain, saved },
        certificate: { done: cert.view !== null, installed: cert.view, path: tlsPaths(dataDir).cert, problem: cert.problem },
        password: { done: await passwordSet(), required: passwordRequired },
      },
      restartRequired: restartPending().length > 0,
    } satisfies SetupResponse;
  });

  router.post('/setup/complete', async (ctx) => {
    let saved = placeholderDomain;
    try {
      saved = savedConfig(dataDir).domain;
    } catch {
      // reported below as a missing domain
    }
    if (service.config.domain === placeholderDomain && saved === placeholderDomain) {
      throw new ConsulateError('setup_incomplete', 'choose this appliance’s domain first (the Domain step)', { status: 409 });
    }
    if (passwordRequired && !(await passwordSet())) {
      throw new ConsulateError('setup_incomplete', 'set an admin password first: this admin listener is reachable beyond loopback', { status: 409 });
    }
    const at = new Date().toISOString();
    await db()
      .transaction()
      .execute(async (trx) => {
        await trx
          .insertInto('meta')
          .values({ key: setupDoneKey, value: at })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: at }))
          .execute();
        await appendAudit(trx, { actor, action: 'setup.complete', target: saved, details: { certificate: certificate().view !== null } });
      });
    ctx.status = 204;
  });

  router.get('/settings', (ctx) => {
    ctx.body = settingsBody();
  });

  router.put('/settings', async (ctx) => {
    const patch = parseBody(settingsUpdateRequest, ctx.request.body);
    if (patch.admin?.host && !isLoopbackHost(patch.admin.host) && !(await passwordSet())) {
      throw new ConsulateError('password_required', `set an admin password before opening the admin listener to ${patch.admin.host}`, { status: 409 });
    }
    if (!(await setupCompletedAt())) await setMeta(setupStartedKey, new Date().toISOString());
    const { changed } = saveSettings(dataDir, patch);
    if (changed.length > 0) {
      await appendAudit(db(), { actor, action: 'settings.update', target: settingsPath(dataDir), details: { changed } });
      service.logger.info({ changed }, 'settings saved; restart to apply');
    }
    ctx.body = settingsBody();
  });

  router.get('/live', async (ctx) => {
    ctx.body = await snapshot();
  });

  router.get('/events', (ctx) => {
    const session = ctx.state.session as Session;
    const res = ctx.res;
    // Koa would pipe a body stream and report the client's disconnect as an error; an event
    // stream ends that way normally, so this handler writes to the socket itself.
    ctx.respond = false;
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n\n');
    let ended = false;
    const send: Send = (event, data) => {
      // A logout or an idle timeout ends the stream too: the session is checked on every event.
      if (!service.sessions.isLive(session.id)) return end();
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = hub.subscribe(send);
    function end(): void {
      if (ended) return;
      ended = true;
      unsubscribe();
      res.end();
    }
    ctx.req.on('close', end);
    res.on('error', end);
    ctx.state.closing?.addEventListener('abort', end, { once: true });
  });

  router.get('/audit', async (ctx) => {
    const limit = Math.min(Math.max(Number(ctx.query['limit']) || 500, 1), 5000);
    const rows = await db()
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    const brokenAt = await verifyAuditChain(db());
    ctx.body = {
      entries: await listAudit(db(), limit),
      chain: { intact: brokenAt === undefined, brokenAt: brokenAt ?? null, checked: Number(rows?.n ?? 0) },
    } satisfies AuditResponse;
  });

  router.get('/logs', (ctx) => {
    const since = Number(ctx.query['since']) || 0;
    ctx.body = { entries: logs.entries(since), available: logs.available, level: service.config.log.level } satisfies LogsResponse;
  });
}
