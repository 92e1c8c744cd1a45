import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { WebSocket } from 'ws';
import type { IdentityKey } from '../identity/identity.js';
import { LinkError } from '../link/errors.js';
import { initiate, linkClientOptions, linkPath } from '../link/handshake.js';
import { trustAnchors } from '../link/manager.js';
import { LinkSession } from '../link/session.js';
import type { Peer } from './whitelist.js';

export interface DoctorStep {
  step: 'dns' | 'tcp' | 'tls' | 'handshake' | 'clock';
  ok: boolean;
  /** Stable code on failure. */
  code?: string;
  message: string;
  ms: number;
}

export interface DoctorOptions {
  peer: Peer;
  ownDomain: string;
  identity: IdentityKey;
  caBundle?: string[];
  timeoutMs?: number;
  /** Largest clock difference that passes (default 5 min, the link's own limit). */
  maxSkewMs?: number;
  onStep?: (step: DoctorStep) => void;
}

/**
 * Checks a peer step by step, the way a link is built, and stops at the first failure
 * so the operator sees exactly which layer is broken.
 */
export async function checkPeer(options: DoctorOptions): Promise<DoctorStep[]> {
  const steps: DoctorStep[] = [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const url = new URL(options.peer.federationUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  const record = (step: DoctorStep) => {
    steps.push(step);
    options.onStep?.(step);
    return step.ok;
  };
  const timed = async <T>(step: DoctorStep['step'], run: () => Promise<{ message: string; value: T }>): Promise<T | undefined> => {
    const started = performance.now();
    try {
      const { message, value } = await run();
      record({ step, ok: true, message, ms: Math.round(performance.now() - started) });
      return value;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'internal';
      record({ step, ok: false, code, message: (error as Error).message, ms: Math.round(performance.now() - started) });
      return undefined;
    }
  };

  const address = await timed('dns', async () => {
    if (isIP(host)) return { message: `${host} is an address`, value: host };
    try {
      const all = await lookup(host, { all: true });
      return { message: `${host} → ${all.map((a) => a.address).join(', ')}`, value: all[0]?.address as string };
    } catch (error) {
      throw new LinkError('peer_unreachable', `${host} does not resolve: ${(error as Error).message}`);
    }
  });
  if (!address) return steps;

  const tcp = await timed(
    'tcp',
    () =>
      new Promise<{ message: string; value: true }>((resolve, reject) => {
        const socket = netConnect({ host: address, port, timeout: timeoutMs });
        socket.once('connect', () => {
          socket.destroy();
          resolve({ message: `connected to ${address}:${port}`, value: true });
        });
        socket.once('timeout', () => {
          socket.destroy();
          reject(new LinkError('timeout', `no TCP answer from ${address}:${port} within ${timeoutMs} ms`));
        });
        socket.once('error', (error) => reject(new LinkError('peer_unreachable', `TCP to ${address}:${port} failed: ${error.message}`)));
      }),
  );
  if (!tcp) return steps;

  const ca = trustAnchors([...(options.caBundle ?? []), ...(options.peer.caBundle ? [options.peer.caBundle] : [])]);
  const tlsOk = await timed(
    'tls',
    () =>
      new Promise<{ message: string; value: true }>((resolve, reject) => {
        const socket = tlsConnect({ host: address, port, ca, ...(isIP(host) ? {} : { servername: host }), timeout: timeoutMs });
        socket.once('secureConnect', () => {
          const cert: PeerCertificate = socket.getPeerCertificate();
          socket.destroy();
          const days = Math.floor((Date.parse(cert.valid_to) - Date.now()) / 86_400_000);
          resolve({
            message: `certificate for ${cert.subject?.CN ?? host} issued by ${cert.issuer?.CN ?? '?'} valid, ${days} days left (${socket.getProtocol() ?? 'TLS'})`,
            value: true,
          });
        });
        socket.once('timeout', () => {
          socket.destroy();
          reject(new LinkError('timeout', 'TLS handshake timed out'));
        });
        socket.once('error', (error) => reject(new LinkError('tls_failed', `TLS to ${host}:${port}: ${error.message}`)));
      }),
  );
  if (!tlsOk) return steps;

  const peerTime = await timed('handshake', async () => {
    const pinned = options.peer.keys.filter((k) => k.notAfter === null || Date.parse(k.notAfter) > Date.now()).at(-1);
    if (!pinned) throw new LinkError('key_mismatch', 'no key is pinned for this peer');
    const socket = new WebSocket(`${options.peer.federationUrl}${linkPath}`, { ...linkClientOptions, ca, handshakeTimeout: timeoutMs });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', (error) => reject(new LinkError('peer_unreachable', error.message)));
        socket.once('unexpected-response', (_q, res) => reject(new LinkError('peer_unreachable', `HTTP ${res.statusCode} on the link path`)));
      });
      const messages: Uint8Array[] = [];
      const waiters: Array<(m: Uint8Array) => void> = [];
      let closed: LinkError | undefined;
      const closeWaiters: Array<(e: LinkError) => void> = [];
      socket.on('message', (data: Buffer) => {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        const waiter = waiters.shift();
        if (waiter) waiter(bytes);
        else messages.push(bytes);
      });
      socket.once('close', (code: number, reason: Buffer) => {
        closed = new LinkError(code === 4401 ? 'handshake_failed' : 'peer_unreachable', `link closed (${code} ${reason.toString()})`);
        for (const w of closeWaiters.splice(0)) w(closed);
      });
      const receive = () =>
        new Promise<Uint8Array>((resolve, reject) => {
          const queued = messages.shift();
          if (queued) return resolve(queued);
          if (closed) return reject(closed);
          waiters.push(resolve);
          closeWaiters.push(reject);
        });
      const ciphers = await initiate((m) => socket.send(m), receive, {
        identity: options.identity,
        ownDomain: options.ownDomain,
        peerDomain: options.peer.domain,
        peerKey: pinned.publicKey,
      });
      socket.removeAllListeners('message');
      const session = new LinkSession(socket, {
        peerDomain: options.peer.domain,
        direction: 'outbound',
        ciphers,
        handler: async () => Promise.reject(new LinkError('unknown_frame', 'doctor serves nothing')),
      });
      const rtt = await session.ping();
      session.goaway('shutting_down', 'doctor check done');
      return { message: `Noise IK with the pinned key ${pinned.fingerprint} succeeded, round trip ${rtt.toFixed(1)} ms`, value: ciphers.peerTime };
    } finally {
      socket.terminate();
    }
  });
  if (peerTime === undefined) return steps;

  await timed('clock', async () => {
    const skew = peerTime - Date.now();
    const max = options.maxSkewMs ?? 5 * 60_000;
    if (Math.abs(skew) > max) throw new LinkError('clock_skew', `the peer's clock is ${Math.round(skew / 1000)} s off ours (allowed ±${max / 1000} s)`);
    return { message: `clocks agree within ${Math.abs(Math.round(skew))} ms`, value: true };
  });
  return steps;
}
