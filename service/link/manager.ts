import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import type { PeerStatusBoard } from '../federation/peer-status.js';
import type { Whitelist } from '../federation/whitelist.js';
import type { IdentityKey } from '../identity/identity.js';
import type { Logger } from '../telemetry/logger.js';
import { backoffDelay } from './backoff.js';
import { UnknownDialers } from './unknown-dialers.js';
import { LinkError, type LinkErrorCode } from './errors.js';
import type { responseType, FrameOf, RequestType } from './frames.js';
import { initiate, linkClientOptions, linkPath, respond, staticMatchesPins, type AcceptedClaim } from './handshake.js';
import { verifyRotation, rotationStatement } from './rotation.js';
import { LinkSession, type LinkSessionOptions, type RequestFrame, type RequestHandler } from './session.js';

export type FrameHandlers = { [T in RequestType]?: (frame: FrameOf<T>, session: LinkSession) => Promise<FrameOf<(typeof responseType)[T]>> };

export interface LinkManagerOptions {
  ownDomain: string;
  whitelist: Whitelist;
  /** This appliance's keys: the active one first, then retired keys still in their grace period. */
  identities: () => Promise<IdentityKey[]>;
  status: PeerStatusBoard;
  logger: Logger;
  /** Extra trust anchors (PEM) for every peer, e.g. an enterprise CA bundle. */
  caBundle?: () => string[];
  handlers?: FrameHandlers;
  /** Largest accepted difference between the dialer's clock and ours (default 5 min). */
  maxSkewMs?: number;
  /** How long a peer's rotated-out key stays pinned (default 7 days). */
  keyGraceMs?: number;
  session?: Partial<Omit<LinkSessionOptions, 'peerDomain' | 'direction' | 'ciphers' | 'handler'>>;
  backoff?: { baseMs?: number; maxMs?: number };
  handshakeTimeoutMs?: number;
}

/** WebSocket close codes of our own: the reason text carries the stable error code. */
const closeRefused = 4001;
const closeHandshakeFailed = 4401;

function toBytes(data: WebSocket.RawData): Uint8Array {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Resolves with the next binary message, or rejects (with the codes operators see) when the socket closes, fails or times out first. */
export function nextMessage(socket: WebSocket, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    const onMessage = (data: WebSocket.RawData) => {
      cleanup();
      resolve(toBytes(data));
    };
    const onClose = (code: number, reason: Buffer) => {
      cleanup();
      const text = reason.toString();
      reject(
        new LinkError(
          code === closeHandshakeFailed ? 'handshake_failed' : 'peer_unreachable',
          `link closed during the handshake (${code}${text ? ` ${text}` : ''})`,
        ),
      );
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new LinkError('peer_unreachable', error.message));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new LinkError('timeout', `no handshake message within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', onMessage);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

/** Maps TLS and socket failures to the stable codes operators see. */
export function connectError(error: Error & { code?: string }, url: string): LinkError {
  const code = error.code ?? '';
  if (code.startsWith('ERR_TLS') || /certificate|self.signed|unable to verify|altname|SSL/i.test(`${code} ${error.message}`)) {
    return new LinkError('tls_failed', `TLS to ${url} failed: ${error.message}`, { cause: error });
  }
  return new LinkError('peer_unreachable', `cannot reach ${url}: ${error.message}`, { cause: error });
}

export function trustAnchors(extra: string[]): string[] {
  return [...rootCertificates, ...extra.filter((pem) => pem.trim() !== '')];
}

/**
 * Owns every federation link of one appliance: accepts inbound links on the federation
 * listener and keeps one outbound link per active peer, reconnecting with backoff.
 */
export class LinkManager {
  readonly #options: LinkManagerOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 65535, perMessageDeflate: false });
  readonly #dialers = new Map<string, Dialer>();
  /** Dialers refused because their claimed domain is not on the whitelist, for the Peers screen. */
  readonly unknownDialers = new UnknownDialers();
  readonly #inbound = new Map<string, Set<LinkSession>>();
  readonly #seenFirstMessages = new Map<string, number>();
  readonly #handler: RequestHandler;
  #closed = false;

  constructor(options: LinkManagerOptions) {
    this.#options = options;
    this.#handler = (frame, session) => this.#handle(frame, session);
  }

  get options(): LinkManagerOptions {
    return this.#options;
  }

  /** Routes WebSocket upgrades on the link path of an HTTPS server to this manager. */
  attach(server: Pick<HttpServer, 'on'>): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(request.url ?? '/', 'https://x').pathname !== linkPath || this.#closed) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(request, socket, head, (ws) => void this.#accept(ws, request.socket.remoteAddress ?? '?'));
    });
  }

  /** Starts, stops or restarts outbound links so they match the whitelist and our keys. */
  async sync(): Promise<void> {
    if (this.#closed) return;
    const peers = await this.#options.whitelist.list();
    const wanted = new Map(peers.filter((p) => p.state === 'active').map((p) => [p.domain, p]));
    for (const [domain, dialer] of this.#dialers) {
      if (!wanted.has(domain)) {
        dialer.stop('peer_suspended', 'peer suspended or removed from the whitelist');
        this.#dialers.delete(domain);
      }
    }
    for (const peer of peers) {
      this.unknownDialers.forget(peer.domain);
      if (peer.state === 'suspended') {
        this.#options.status.update(peer.domain, { outbound: 'suspended', inbound: 'suspended' });
        for (const session of this.#inbound.get(peer.domain) ?? []) session.goaway('peer_suspended', 'this peer was suspended by the administrator');
      }
    }
    const active = (await this.#options.identities())[0];
    for (const domain of wanted.keys()) {
      const existing = this.#dialers.get(domain);
      if (existing?.identityId !== undefined && active && existing.identityId !== active.id) existing.restart();
      if (!existing) {
        const dialer = new Dialer(this, domain);
        this.#dialers.set(domain, dialer);
        dialer.start();
      }
    }
    for (const domain of [...this.#inbound.keys()]) {
      if (!peers.some((p) => p.domain === domain)) {
        for (const session of this.#inbound.get(domain) ?? []) session.goaway('not_whitelisted', 'this peer was removed from the whitelist');
        this.#options.status.forget(domain);
      }
    }
  }

  /** The outbound session to a peer if it is up. */
  outbound(domain: string): LinkSession | undefined {
    const session = this.#dialers.get(domain)?.session;
    return session?.open ? session : undefined;
  }

  /** Sends a request on our outbound link to the peer; fails fast with peer_unreachable if it is down. */
  async request<T extends RequestType>(domain: string, frame: Omit<FrameOf<T>, 'id'>, timeoutMs?: number): Promise<FrameOf<(typeof responseType)[T]>> {
    const session = this.outbound(domain);
    if (!session) {
      const last = this.#options.status.get(domain).lastError;
      throw new LinkError('peer_unreachable', `no link to ${domain}${last ? ` (last error: ${last.code})` : ''}`);
    }
    return session.request<T>(frame as never, timeoutMs) as Promise<FrameOf<(typeof responseType)[T]>>;
  }

  /** Resolves once the outbound link to the peer is up. */
  waitForLink(domain: string, timeoutMs = 10_000): Promise<LinkSession> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        const session = this.outbound(domain);
        if (session) return resolve(session);
        if (Date.now() - started > timeoutMs) {
          const last = this.#options.status.get(domain).lastError;
          return reject(new LinkError('peer_unreachable', `no link to ${domain} within ${timeoutMs} ms${last ? `: ${last.code}: ${last.message}` : ''}`));
        }
        setTimeout(check, 25);
      };
      check();
    });
  }

  /** Tells connected peers about our new key, signed by the key it replaces. */
  async announceRotation(previous: IdentityKey, next: IdentityKey): Promise<string[]> {
    const graceMs = this.#options.keyGraceMs ?? 7 * 86_400_000;
    const told: string[] = [];
    for (const [domain, dialer] of this.#dialers) {
      const session = dialer.session;
      if (!session?.open) continue;
      try {
        await session.request<'key.rotate'>(await rotationStatement(this.#options.ownDomain, previous, next, graceMs));
        told.push(domain);
      } catch (error) {
        this.#options.logger.warn({ peer: domain, err: error }, 'peer did not accept our key rotation');
      }
    }
    return told;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const dialer of this.#dialers.values()) dialer.stop('shutting_down', 'appliance is shutting down');
    this.#dialers.clear();
    for (const sessions of this.#inbound.values()) for (const s of sessions) s.goaway('shutting_down', 'appliance is shutting down');
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  sessionOptions(): LinkManagerOptions['session'] {
    return this.#options.session;
  }

  get requestHandler(): RequestHandler {
    return this.#handler;
  }

  async #handle(frame: RequestFrame, session: LinkSession): Promise<FrameOf<(typeof responseType)[RequestType]>> {
    if (frame.t === 'key.rotate') return this.#onRotate(frame, session);
    const handler = this.#options.handlers?.[frame.t] as
      ((f: RequestFrame, s: LinkSession) => Promise<FrameOf<(typeof responseType)[RequestType]>>) | undefined;
    if (!handler) throw new LinkError('unknown_frame', `this appliance does not serve ${frame.t}`);
    return handler(frame, session);
  }

  async #onRotate(frame: FrameOf<'key.rotate'>, session: LinkSession): Promise<FrameOf<'key.rotate.ok'>> {
    const { whitelist, status, logger } = this.#options;
    const domain = session.peerDomain;
    const pinned = (await whitelist.pinnedKeys(domain)).map((k) => k.publicKey);
    const signer = await verifyRotation(domain, frame, pinned);
    if (!signer) {
      const message = `${domain} announced a new key that no pinned key signed; the pin is unchanged`;
      status.update(domain, { keyAlarm: message });
      status.recordError(domain, 'key_mismatch', message);
      logger.error({ peer: domain, code: 'key_mismatch' }, message);
      throw new LinkError('key_mismatch', 'rotation statement is not signed by a key pinned for your domain');
    }
    if (!pinned.includes(frame.newKey)) {
      // The peer proposes the grace period; it is capped so an old key cannot stay trusted for long.
      const graceUntil = Math.min(frame.graceUntil, Date.now() + (this.#options.keyGraceMs ?? 7 * 86_400_000) * 2);
      await whitelist.pinKey(domain, frame.newKey, { source: 'rotation' }, `peer:${domain}`);
      await whitelist.expireKey(domain, signer, new Date(graceUntil).toISOString(), `peer:${domain}`);
      logger.info({ peer: domain }, 'peer rotated its key; old key kept until the grace period ends');
    }
    return { t: 'key.rotate.ok', id: frame.id };
  }

  async #accept(ws: WebSocket, remoteAddress: string): Promise<void> {
    const { logger, status } = this.#options;
    let claimedDomain: string | undefined;
    let knownPeer: string | undefined;
    try {
      const first = await nextMessage(ws, this.#options.handshakeTimeoutMs ?? 10_000);
      const { ciphers, claim } = await respond(first, (m) => ws.send(m), {
        identities: await this.#options.identities(),
        policy: (accepted) => this.#policy(accepted, (d) => (knownPeer = d), remoteAddress),
      });
      // The whitelist's spelling of the domain, not the claim's (the policy accepted it, so it is known).
      const domain = knownPeer ?? claim.from;
      claimedDomain = domain;
      const session = new LinkSession(ws, { ...this.#options.session, peerDomain: domain, direction: 'inbound', ciphers, handler: this.#handler });
      status.track(domain, session);
      // Noise §7.7: the dialer is authenticated only when its first transport message decrypts.
      session.once('frame', () => {
        let set = this.#inbound.get(domain);
        if (!set) this.#inbound.set(domain, (set = new Set()));
        set.add(session);
        status.update(domain, { inbound: 'up', lastHandshake: new Date().toISOString() });
        logger.info({ peer: domain, remoteAddress }, 'inbound link up');
        this.#dialers.get(domain)?.hurry();
      });
      session.on('close', (error) => {
        this.#inbound.get(domain)?.delete(session);
        if (!this.#inbound.get(domain)?.size) status.update(domain, { inbound: 'down' });
        if (error) {
          status.recordError(domain, error.code, error.message);
          logger.warn({ peer: domain, code: error.code }, `inbound link closed: ${error.message}`);
        }
      });
    } catch (error) {
      const linkError = error instanceof LinkError ? error : new LinkError('internal', (error as Error).message);
      status.recordError(knownPeer, linkError.code, linkError.message);
      logger.warn({ peer: claimedDomain ?? knownPeer ?? 'unknown', remoteAddress, code: linkError.code }, `inbound link refused: ${linkError.message}`);
      ws.close(linkError.code === 'handshake_failed' ? closeHandshakeFailed : closeRefused, linkError.code);
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  async #policy(
    accepted: AcceptedClaim,
    noteKnown: (domain: string) => void,
    remoteAddress: string,
  ): Promise<{ code: LinkErrorCode; message: string } | undefined> {
    const { claim } = accepted;
    const maxSkew = this.#options.maxSkewMs ?? 5 * 60_000;
    const now = Date.now();
    if (claim.to !== this.#options.ownDomain) return { code: 'wrong_target', message: `this appliance serves ${this.#options.ownDomain}, not ${claim.to}` };
    if (!Number.isFinite(claim.ts) || Math.abs(now - claim.ts) > maxSkew) {
      return {
        code: 'clock_skew',
        message: `the dialer's clock is ${Number.isFinite(claim.ts) ? Math.round((claim.ts - now) / 1000) : '?'} s off (allowed ±${maxSkew / 1000} s)`,
      };
    }
    let peer;
    try {
      peer = await this.#options.whitelist.get(claim.from);
    } catch {
      return { code: 'not_whitelisted', message: `"${String(claim.from).slice(0, 80)}" is not a valid domain` };
    }
    if (!peer) {
      this.unknownDialers.note(claim.from, remoteAddress);
      return { code: 'not_whitelisted', message: `${claim.from} is not on the whitelist of ${this.#options.ownDomain}` };
    }
    noteKnown(peer.domain);
    if (peer.state === 'suspended')
      return { code: 'peer_suspended', message: `${peer.domain} is suspended by the administrator of ${this.#options.ownDomain}` };
    const pins = (await this.#options.whitelist.pinnedKeys(peer.domain)).map((k) => k.publicKey);
    if (!staticMatchesPins(accepted.remoteStatic, pins))
      return { code: 'key_mismatch', message: `the key ${peer.domain} presented is not the one pinned for it` };
    // Replays are checked last, so only messages made with a pinned key enter the cache.
    // Entries are added in time order, so expired ones are always at the front.
    for (const [digest, expires] of this.#seenFirstMessages) {
      if (expires >= now) break;
      this.#seenFirstMessages.delete(digest);
    }
    if (this.#seenFirstMessages.has(accepted.messageDigest)) return { code: 'replay', message: 'this handshake message was already used' };
    this.#seenFirstMessages.set(accepted.messageDigest, now + 2 * maxSkew);
    return undefined;
  }
}

/** One outbound link, kept up with jittered backoff for as long as the peer is active. */
class Dialer {
  session: LinkSession | undefined;
  identityId: string | undefined;
  #attempt = 0;
  #stopped = false;
  /** Set while waiting out the backoff before the next dial. */
  #timer: NodeJS.Timeout | undefined;
  #socket: WebSocket | undefined;

  constructor(
    private readonly manager: LinkManager,
    private readonly domain: string,
  ) {}

  start(): void {
    void this.#connect();
  }

  /** Re-dials, e.g. after our own key rotated. */
  restart(): void {
    this.session?.goaway('shutting_down', 'reconnecting with a new key');
    this.#socket?.terminate();
  }

  /**
   * The peer just proved itself on an inbound link, so it is reachable again: dial now
   * instead of at the end of the backoff wait (which grows to 30–60 s after a long outage).
   */
  hurry(): void {
    if (this.#timer === undefined || this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.manager.options.logger.debug({ peer: this.domain }, 'inbound link from the peer: dialing now');
    void this.#connect();
  }

  stop(code: string, reason: string): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.session?.goaway(code, reason);
    this.#socket?.terminate();
  }

  async #connect(): Promise<void> {
    const { whitelist, status, logger, ownDomain } = this.manager.options;
    if (this.#stopped) return;
    status.update(this.domain, { outbound: 'connecting' });
    let failure: LinkError | undefined;
    try {
      const peer = await whitelist.require(this.domain);
      const pins = await whitelist.pinnedKeys(this.domain);
      const peerKey = pins.at(-1)?.publicKey;
      if (!peerKey) throw new LinkError('key_mismatch', `no valid key is pinned for ${this.domain}`);
      const identities = await this.manager.options.identities();
      const identity = identities[0];
      if (!identity) throw new LinkError('internal', 'this appliance has no identity key');
      const url = `${peer.federationUrl}${linkPath}`;
      const ca = trustAnchors([...(this.manager.options.caBundle?.() ?? []), ...(peer.caBundle ? [peer.caBundle] : [])]);
      const socket = new WebSocket(url, { ...linkClientOptions, ca, handshakeTimeout: 10_000 });
      this.#socket = socket;
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', (error) => reject(connectError(error, url)));
        socket.once('unexpected-response', (_req, res) => reject(new LinkError('peer_unreachable', `${url} answered HTTP ${res.statusCode}, not a link`)));
      });
      const ciphers = await initiate(
        (m) => socket.send(m),
        () => nextMessage(socket, this.manager.options.handshakeTimeoutMs ?? 10_000),
        { identity, ownDomain, peerDomain: this.domain, peerKey },
      );
      const session = new LinkSession(socket, {
        ...this.manager.sessionOptions(),
        peerDomain: this.domain,
        direction: 'outbound',
        ciphers,
        handler: this.manager.requestHandler,
      });
      this.session = session;
      this.identityId = identity.id;
      status.track(this.domain, session);
      // The first transport message is what authenticates us to the responder (Noise §7.7).
      await session.ping();
      this.#attempt = 0;
      status.update(this.domain, { outbound: 'up', lastHandshake: new Date().toISOString(), rttMs: session.rttMs ?? null });
      session.on('rtt', (ms) => status.update(this.domain, { rttMs: ms }));
      logger.info({ peer: this.domain }, 'outbound link up');
      const closed = await new Promise<LinkError | undefined>((resolve) => session.once('close', resolve));
      failure = closed;
    } catch (error) {
      failure = error instanceof LinkError ? error : connectError(error as Error, this.domain);
      this.#socket?.terminate();
    }
    this.session = undefined;
    if (this.#stopped) return;
    status.update(this.domain, {
      outbound: failure && ['key_mismatch', 'not_whitelisted', 'peer_suspended', 'wrong_target'].includes(failure.code) ? 'refused' : 'down',
    });
    if (failure) {
      status.recordError(this.domain, failure.code, failure.message);
      logger.warn({ peer: this.domain, code: failure.code }, `outbound link down: ${failure.message}`);
    }
    const delay = backoffDelay(this.#attempt++, this.manager.options.backoff);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, delay);
    this.#timer.unref();
  }
}
