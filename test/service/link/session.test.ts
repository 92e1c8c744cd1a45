import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { IdentityKey } from '../../../service/identity/identity.js';
import { LinkError } from '../../../service/link/errors.js';
import type { Frame } from '../../../service/link/frames.js';
import { initiate, linkClientOptions, linkPath, respond } from '../../../service/link/handshake.js';
import { nextMessage } from '../../../service/link/manager.js';
import { LinkSession, type RequestHandler } from '../../../service/link/session.js';
import { newIdentity } from '../../helpers/identity.js';

// Real links on loopback: a ws server and a dialer with the product's options, a Noise IK
// handshake between two identity keys, then a LinkSession on each end (no TLS: the sessions
// see the same WebSocket either way; the integration tests run links over TLS).
let server: WebSocketServer;
let dialerKey: IdentityKey;
let responderKey: IdentityKey;
const sessions: LinkSession[] = [];

beforeAll(async () => {
  [dialerKey, responderKey] = await Promise.all([newIdentity(), newIdentity()]);
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 65535, perMessageDeflate: false });
  await new Promise((resolve) => server.once('listening', resolve));
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

async function pair(
  handler: RequestHandler,
  options: { maxInFlight?: number; requestTimeoutMs?: number } = {},
): Promise<{ dialer: LinkSession; sockets: [WebSocket, WebSocket] }> {
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const a = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}${linkPath}`, linkClientOptions);
  await new Promise((resolve, reject) => a.once('open', resolve).once('error', reject));
  const b = await accepted;
  const first = nextMessage(b, 5000);
  const dialing = initiate(
    (m) => a.send(m),
    () => nextMessage(a, 5000),
    {
      identity: dialerKey,
      ownDomain: 'a.example',
      peerDomain: 'b.example',
      peerKey: responderKey.id,
    },
  );
  const responded = await respond(await first, (m) => b.send(m), { identities: [responderKey], policy: async () => undefined });
  const responder = new LinkSession(b, { peerDomain: 'a.example', direction: 'inbound', ciphers: responded.ciphers, handler });
  const dialer = new LinkSession(a, {
    peerDomain: 'b.example',
    direction: 'outbound',
    ciphers: await dialing,
    handler: async () => ({ t: 'pong', id: 0, ts: 0 }),
    ...options,
  });
  sessions.push(dialer, responder);
  return { dialer, sockets: [a, b] };
}

const envelope = { id: '01J00000000000000000000000', from: 'alice@a.example', to: ['bob@b.example'], type: 'message' as const, ts: 1, body: new Uint8Array(3) };

afterEach(() => {
  for (const s of sessions.splice(0)) s.goaway('shutting_down', 'test done');
});

describe('LinkSession requests', () => {
  it('keeps at most maxInFlight requests outstanding; the rest wait for an answer, then go in order', async () => {
    const gates: Array<() => void> = [];
    const seen: number[] = [];
    const { dialer } = await pair(
      async (frame) => {
        if (frame.t !== 'deliver') throw new Error('deliver only');
        seen.push(frame.envelopes[0]!.ts);
        await new Promise<void>((resolve) => gates.push(resolve));
        return { t: 'ack', id: frame.id, stored: [String(frame.envelopes[0]!.ts)], rejected: [] };
      },
      { maxInFlight: 2 },
    );
    const answers = [1, 2, 3, 4].map((ts) => dialer.request<'deliver'>({ t: 'deliver', envelopes: [{ ...envelope, ts }] }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual([1, 2]);
    expect(dialer.inFlight).toBe(2);
    gates.shift()!();
    await expect(answers[0]).resolves.toMatchObject({ t: 'ack', stored: ['1'] });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual([1, 2, 3]);
    while (gates.length) gates.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 30));
    while (gates.length) gates.shift()!();
    expect((await Promise.all(answers)).map((a) => a.stored[0])).toEqual(['1', '2', '3', '4']);
    expect(dialer.inFlight).toBe(0);
  });

  it('rejects a request that gets no answer in time with timeout, naming the request', async () => {
    const { dialer } = await pair(() => new Promise<Frame>(() => undefined), { requestTimeoutMs: 40 });
    const started = Date.now();
    const error = (await dialer.request<'deliver'>({ t: 'deliver', envelopes: [envelope] }).catch((e: unknown) => e)) as LinkError;
    expect(error).toBeInstanceOf(LinkError);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('deliver to b.example got no answer within 40 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(dialer.inFlight).toBe(0);
  });

  it('rejects an answer of the wrong type with frame_malformed', async () => {
    const { dialer } = await pair(async (frame) => ({ t: 'pong', id: frame.id, ts: 1 }));
    await expect(dialer.request<'deliver'>({ t: 'deliver', envelopes: [envelope] })).rejects.toMatchObject({
      code: 'frame_malformed',
      message: 'expected ack, got pong',
    });
  });

  it('answers an error frame with the code the handler threw', async () => {
    const { dialer } = await pair(async () => {
      throw new LinkError('capability_denied', 'messages are not enabled');
    });
    await expect(dialer.request<'deliver'>({ t: 'deliver', envelopes: [envelope] })).rejects.toMatchObject({ code: 'capability_denied' });
  });

  it('refuses a send from inside a transmit instead of corrupting the frame being written', async () => {
    const received: number[] = [];
    const { dialer, sockets } = await pair(async (frame) => {
      if (frame.t !== 'deliver') throw new Error('deliver only');
      received.push(frame.envelopes.length);
      return { t: 'ack', id: frame.id, stored: [], rejected: [] };
    });
    const [socket] = sockets;
    const send = socket.send.bind(socket);
    let reentered: unknown;
    socket.send = ((data: Uint8Array, options: { binary: boolean }) => {
      if (reentered === undefined) {
        try {
          dialer.send({ t: 'ping', id: 99, ts: 1 });
          reentered = 'no error';
        } catch (error) {
          reentered = error;
        }
      }
      send(data, options);
    }) as typeof socket.send;
    // Two frames of about 40 KB: the second does not fit beside the first, so the writer
    // transmits the first before it has copied the second.
    const big = Array.from({ length: 30 }, () => ({ ...envelope, body: new Uint8Array(1300) }));
    const answers = [dialer.request<'deliver'>({ t: 'deliver', envelopes: big }), dialer.request<'deliver'>({ t: 'deliver', envelopes: big })];
    await Promise.all(answers);
    expect(reentered).toMatchObject({ code: 'internal' });
    expect(received).toEqual([30, 30]);
  });

  it('rejects what is in flight or waiting when the link closes, and every request after it, with peer_unreachable', async () => {
    const { dialer } = await pair(() => new Promise<Frame>(() => undefined), { maxInFlight: 1 });
    const inFlight = dialer.request<'deliver'>({ t: 'deliver', envelopes: [envelope] }).catch((e: LinkError) => e.code);
    const waiting = dialer.request<'deliver'>({ t: 'deliver', envelopes: [envelope] }).catch((e: LinkError) => e.code);
    await new Promise((resolve) => setTimeout(resolve, 10));
    dialer.goaway('shutting_down', 'test');
    expect(await inFlight).toBe('peer_unreachable');
    expect(await waiting).toBe('peer_unreachable');
    await expect(dialer.request<'ping'>({ t: 'ping', ts: 1 })).rejects.toMatchObject({ code: 'peer_unreachable' });
  });
});
