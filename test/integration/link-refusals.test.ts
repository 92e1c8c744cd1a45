import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Service } from '../../service/app.js';
import { createCard } from '../../service/federation/card.js';
import { checkPeer } from '../../service/federation/doctor.js';
import type { IdentityKey } from '../../service/identity/identity.js';
import { LinkError } from '../../service/link/errors.js';
import { initiate, linkPath } from '../../service/link/handshake.js';
import { trustAnchors } from '../../service/link/manager.js';
import { waitFor } from '../helpers/appliance.js';
import { newIdentity } from '../helpers/identity.js';
import { inProcessAppliance } from '../helpers/in-process.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';

function appliance(domain: string, ca: TestCa, sans?: string[]): Promise<Service> {
  return inProcessAppliance(domain, ca, { ...(sans ? { sans } : {}), link: { session: { maxFrameBytes: 256 * 1024 }, backoff: { baseMs: 50, maxMs: 200 } } });
}

describe('link refusals: each with its stable code, counted, visible, and nothing changed', () => {
  let ca: TestCa;
  let a: Service;
  let b: Service;
  let aIdentity: IdentityKey;
  let bKey: string;

  async function snapshot(service: Service) {
    return JSON.stringify({ peers: await service.whitelist.list(), depths: [...service.queue.depths()], inbox: service.queue.inboxDepth() });
  }

  async function refusals(service: Service, peer: string, code: string): Promise<number> {
    const metrics = await service.metrics.getSingleMetricAsString('consulate_link_refusals_total');
    const line = metrics.split('\n').find((l) => l.startsWith(`consulate_link_refusals_total{peer="${peer}",code="${code}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  /** Opens a raw WSS to b's link path. */
  async function rawSocket(): Promise<WebSocket> {
    const socket = new WebSocket(`https://localhost:${b.federation?.port}${linkPath}`, { ca: trustAnchors([ca.caCertPem]) });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  }

  /** Dials b with a handshake built from the given parts; resolves with the refusal code, or 'ok'. */
  async function dial(options: { identity?: IdentityKey; from?: string; to?: string; skewMs?: number; onFirst?: (m: Uint8Array) => void }): Promise<string> {
    const socket = await rawSocket();
    const queue: Uint8Array[] = [];
    let wake: ((m: Uint8Array) => void) | undefined;
    let fail: ((e: Error) => void) | undefined;
    socket.on('message', (d: Buffer) => (wake ? wake(new Uint8Array(d)) : queue.push(new Uint8Array(d))));
    socket.on('close', (code: number, reason: Buffer) => fail?.(new LinkError(code === 4401 ? 'handshake_failed' : 'peer_unreachable', reason.toString())));
    try {
      await initiate(
        (m) => {
          options.onFirst?.(m);
          socket.send(m);
        },
        () =>
          new Promise<Uint8Array>((resolve, reject) => {
            const next = queue.shift();
            if (next) return resolve(next);
            wake = resolve;
            fail = reject;
          }),
        {
          identity: options.identity ?? aIdentity,
          ownDomain: options.from ?? 'a.example',
          peerDomain: options.to ?? 'b.example',
          peerKey: bKey,
          now: () => Date.now() + (options.skewMs ?? 0),
        },
      );
      return 'ok';
    } catch (error) {
      return (error as LinkError).code;
    } finally {
      socket.terminate();
    }
  }

  beforeAll(async () => {
    ca = createTestCa();
    [a, b] = await Promise.all([appliance('a.example', ca), appliance('b.example', ca)]);
    aIdentity = (await a.localIdentities())[0] as IdentityKey;
    bKey = ((await b.localIdentities())[0] as IdentityKey).id;
    await b.whitelist.importCard(await createCard(aIdentity, { domain: 'a.example', federationUrl: a.federationUrl }), 'test');
    await a.whitelist.importCard(
      await createCard((await b.localIdentities())[0] as IdentityKey, { domain: 'b.example', federationUrl: b.federationUrl }),
      'test',
    );
    await a.links.waitForLink('b.example');
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('accepts the genuine dialer', async () => {
    expect(await dial({})).toBe('ok');
  });

  it.each<[string, { from?: string; to?: string; skewMs?: number; identity?: 'loose' }, string, string]>([
    ['an unknown domain', { from: 'c.example' }, 'not_whitelisted', 'unknown'],
    ['a static key not pinned for the domain', { identity: 'loose' as const }, 'key_mismatch', 'a.example'],
    ['a target domain this appliance does not serve', { to: 'other.example' }, 'wrong_target', 'unknown'],
    ['a stale timestamp', { skewMs: -10 * 60_000 }, 'clock_skew', 'unknown'],
    ['a timestamp from the future', { skewMs: 10 * 60_000 }, 'clock_skew', 'unknown'],
  ])('refuses %s', async (_what, parts, code, metricPeer) => {
    const before = await snapshot(b);
    const counted = await refusals(b, metricPeer, code);
    const { identity: which, ...rest } = parts;
    const identity = which === 'loose' ? await newIdentity() : undefined;
    expect(await dial({ ...rest, ...(identity ? { identity } : {}) })).toBe(code);
    expect(await refusals(b, metricPeer, code)).toBe(counted + 1);
    if (metricPeer === 'a.example') expect(b.peerStatus.get('a.example').lastError?.code).toBe(code);
    expect(await snapshot(b)).toBe(before);
  });

  it('refuses a suspended peer, and lets it in again on resume', async () => {
    await b.whitelist.setState('a.example', 'suspended', 'test');
    const before = await snapshot(b);
    expect(await dial({})).toBe('peer_suspended');
    expect(b.peerStatus.get('a.example').lastError?.code).toBe('peer_suspended');
    expect(await snapshot(b)).toBe(before);
    await b.whitelist.setState('a.example', 'active', 'test');
    expect(await dial({})).toBe('ok');
    await a.links.waitForLink('b.example');
  });

  it('refuses a replayed first message', async () => {
    let first: Uint8Array | undefined;
    expect(await dial({ onFirst: (m) => (first = m) })).toBe('ok');
    const socket = await rawSocket();
    const answer = new Promise<{ code: number; reply?: Uint8Array }>((resolve) => {
      socket.once('message', (d: Buffer) => resolve({ code: 0, reply: new Uint8Array(d) }));
      socket.once('close', (code) => resolve({ code }));
    });
    const counted = await refusals(b, 'a.example', 'replay');
    socket.send(first as Uint8Array);
    await answer;
    await waitFor(async () => (await refusals(b, 'a.example', 'replay')) === counted + 1, 5000, 'replay counted');
    socket.terminate();
  });

  it.each([
    ['garbage instead of a handshake', () => randomBytes(200)],
    ['a truncated handshake message', () => randomBytes(20)],
    ['an empty message', () => new Uint8Array(0)],
  ])('closes the socket on %s with handshake_failed', async (_what, bytes) => {
    const before = await snapshot(b);
    const socket = await rawSocket();
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.send(bytes());
    expect(await closed).toEqual({ code: 4401, reason: 'handshake_failed' });
    expect(await snapshot(b)).toBe(before);
  });

  it('drops a link that sends an oversized frame after the handshake, and the dialer reconnects', async () => {
    const session = await a.links.waitForLink('b.example');
    const before = await snapshot(b);
    const counted = await refusals(b, 'a.example', 'too_large');
    // Larger than b accepts (256 KiB in this test), chunked over several Noise messages as the protocol says.
    const huge = {
      id: '01J00000000000000000000009',
      from: 'alice@a.example',
      to: ['bob@b.example'],
      type: 'message' as const,
      ts: 1,
      body: new Uint8Array(300 * 1024),
    };
    await expect(session.request<'deliver'>({ t: 'deliver', envelopes: [huge] }, 5000)).rejects.toBeInstanceOf(LinkError);
    await waitFor(async () => (await refusals(b, 'a.example', 'too_large')) === counted + 1, 5000, 'too_large counted');
    expect(b.peerStatus.get('a.example').lastError?.code).toBe('too_large');
    const again = await a.links.waitForLink('b.example', 10_000);
    expect(again).not.toBe(session);
    expect(await snapshot(b)).toBe(before);
  });

  it('drops a link whose transport messages fail authentication after the handshake', async () => {
    const socket = await rawSocket();
    const inbox: Uint8Array[] = [];
    let wake: ((m: Uint8Array) => void) | undefined;
    socket.on('message', (d: Buffer) => (wake ? wake(new Uint8Array(d)) : inbox.push(new Uint8Array(d))));
    await initiate(
      (m) => socket.send(m),
      () => new Promise((resolve) => (inbox.length ? resolve(inbox.shift() as Uint8Array) : (wake = resolve))),
      {
        identity: aIdentity,
        ownDomain: 'a.example',
        peerDomain: 'b.example',
        peerKey: bKey,
      },
    );
    const counted = await refusals(b, 'a.example', 'decrypt_failed');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(randomBytes(64));
    expect(await closed).toBe(4000);
    await waitFor(async () => (await refusals(b, 'a.example', 'decrypt_failed')) === counted + 1, 5000, 'decrypt_failed counted');
  });

  it('refuses a certificate that does not name the host dialled (wrong TLS name)', async () => {
    const peer = await a.whitelist.require('b.example');
    const steps = await checkPeer({
      peer: { ...peer, federationUrl: `https://127.0.0.1:${b.federation?.port}`.replace('127.0.0.1', 'localhost.localdomain') },
      ownDomain: 'a.example',
      identity: aIdentity,
      caBundle: [ca.caCertPem],
    });
    const failed = steps.find((s) => !s.ok);
    expect(failed?.step === 'dns' || failed?.code === 'tls_failed').toBe(true);
    const wrongName = await appliance('wrong.example', ca, ['DNS:not-localhost.example']);
    const steps2 = await checkPeer({
      peer: { ...peer, domain: 'wrong.example', federationUrl: `https://localhost:${wrongName.federation?.port}` },
      ownDomain: 'a.example',
      identity: aIdentity,
      caBundle: [ca.caCertPem],
    });
    await wrongName.stop();
    expect(steps2.map((s) => `${s.step}:${s.ok ? 'ok' : s.code}`)).toEqual(['dns:ok', 'tcp:ok', 'tls:tls_failed']);
    expect(steps2[2]?.message).toMatch(/altnames|Hostname/i);
  });
});
