/**
 * Federation link benchmark: what the Noise layer (handshake, transport encryption, CBOR
 * frames, schema checks, chunking) costs compared with a plain TLS WebSocket doing the same
 * traffic in the same run, on loopback with real TLS. See bench/README.md.
 *
 * Both ends of every connection run in this one process and event loop, so each rate is the
 * work of dialer and responder together, for the Noise run and the reference alike.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Encoder } from 'cbor-x';
import { WebSocket, WebSocketServer } from 'ws';
import { loadSodium, toBase64Url, type Sodium } from '../service/crypto/sodium.js';
import { fingerprint, type IdentityKey } from '../service/identity/identity.js';
import {
  FrameReader,
  FrameWriter,
  chunkFrame,
  decodeFrame,
  encodeFrame,
  frameSchema,
  type Envelope,
  type Frame,
  type FrameOf,
} from '../service/link/frames.js';
import { initiate, linkClientOptions, linkPath, respond, staticMatchesPins, type ClaimPolicy } from '../service/link/handshake.js';
import { CipherState, ed25519PublicKeyToX25519, generateKeyPair, keyPairFromSecretKey, ready } from '../service/link/noise.js';
import { nextMessage } from '../service/link/manager.js';
import { LinkSession, type RequestHandler, type TransportCiphers } from '../service/link/session.js';

const { values: options } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '1.2' },
    inflight: { type: 'string', default: '64' },
    'frame-bytes': { type: 'string', default: '1024' },
    'handshake-concurrency': { type: 'string', default: '8' },
    batch: { type: 'string', default: '16' },
    quick: { type: 'boolean', default: false },
    /** Runs one workload alone, e.g. under --cpu-prof; the names are listed when a wrong one is given. */
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const reps = options.quick ? 1 : positive(options.reps, 'reps');
const windowMs = (options.quick ? 0.3 : positive(options.seconds, 'seconds')) * 1000;
const inflight = positive(options.inflight, 'inflight');
const frameBytes = positive(options['frame-bytes'], 'frame-bytes');
const handshakeConcurrency = positive(options['handshake-concurrency'], 'handshake-concurrency');
const batchSize = positive(options.batch, 'batch');

function positive(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const dialerDomain = 'a.bench.example';
const responderDomain = 'b.bench.example';
const maxSkewMs = 5 * 60_000;

// ---------------------------------------------------------------- setup

interface Tls {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1, made by the openssl CLI. */
function makeTls(): Tls {
  const dir = mkdtempSync(join(tmpdir(), 'consulate-bench-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=Consulate bench CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  );
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    file('server.crt'),
    '-extfile',
    file('server.ext'),
  );
  return { dir, ca: readFileSync(file('ca.crt'), 'utf8'), cert: readFileSync(file('server.crt'), 'utf8'), key: readFileSync(file('server.key'), 'utf8') };
}

async function makeIdentity(): Promise<IdentityKey> {
  const sodium = await loadSodium();
  const pair = sodium.crypto_sign_keypair();
  return {
    publicKey: pair.publicKey,
    secretKey: pair.privateKey,
    id: toBase64Url(pair.publicKey),
    fingerprint: fingerprint(pair.publicKey),
    createdAt: new Date().toISOString(),
  };
}

/**
 * The responder's checks as LinkManager makes them (target, skew, replay cache with the same
 * sweep, pin match), with the whitelist held in memory instead of SQLite.
 */
function benchPolicy(pins: Map<string, string[]>): ClaimPolicy {
  const seen = new Map<string, number>();
  return async ({ claim, remoteStatic, messageDigest }) => {
    const now = Date.now();
    if (claim.to !== responderDomain) return { code: 'wrong_target', message: 'wrong target' };
    if (Math.abs(now - claim.ts) > maxSkewMs) return { code: 'clock_skew', message: 'skew' };
    for (const [digest, expires] of seen) if (expires < now) seen.delete(digest);
    if (seen.has(messageDigest)) return { code: 'replay', message: 'replay' };
    seen.set(messageDigest, now + 2 * maxSkewMs);
    const keys = pins.get(claim.from);
    if (!keys) return { code: 'not_whitelisted', message: 'not whitelisted' };
    if (!staticMatchesPins(remoteStatic, keys)) return { code: 'key_mismatch', message: 'key mismatch' };
    return undefined;
  };
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
}

const envelopeId = '01J9Z8Y7X6W5V4T3S2R1Q0P9N8';
const replyTimeoutMs = 10_000;

/** A deliver frame with one envelope whose body is sized so the encoded frame is `bytes` long. */
function deliverOfSize(bytes: number): { envelope: Envelope; encodedBytes: number } {
  const envelope: Envelope = {
    id: envelopeId,
    from: `alice@${dialerDomain}`,
    to: [`bob@${responderDomain}`],
    type: 'message',
    ts: Date.now(),
    body: new Uint8Array(0),
  };
  let bodyLength = Math.max(0, bytes - 150);
  for (let i = 0; i < 8; i++) {
    envelope.body = randomBytes(bodyLength);
    const size = encodeFrame({ t: 'deliver', id: 1000, envelopes: [envelope] }).length;
    if (size === bytes) break;
    bodyLength = Math.max(0, bodyLength + bytes - size);
  }
  return { envelope, encodedBytes: encodeFrame({ t: 'deliver', id: 1000, envelopes: [envelope] }).length };
}

const answerDeliver: RequestHandler = async (frame) => {
  if (frame.t !== 'deliver') throw new Error(`bench serves only deliver, not ${frame.t}`);
  return { t: 'ack', id: frame.id, stored: frame.envelopes.map((e) => e.id), rejected: [] };
};

/**
 * What-if transports, not product code: the same LinkSession with its AEAD swapped, to split the
 * link's cost into session/framing and encryption. `native` is ChaCha20-Poly1305 from
 * node:crypto (OpenSSL) with the Noise nonce layout and REKEY, cross-checked against CipherState
 * at start-up; `none` passes plaintext through.
 */
type WhatIf = 'native' | 'none';

class NativeCipher {
  #key: Buffer;
  #nonce = 0;
  readonly #iv = Buffer.alloc(12);

  constructor(key: Uint8Array) {
    this.#key = Buffer.from(key);
  }

  encrypt(plaintext: Uint8Array): Uint8Array {
    const cipher = createCipheriv('chacha20-poly1305', this.#key, this.#nextIv(), { authTagLength: 16 });
    const head = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([head, cipher.getAuthTag()]);
  }

  decrypt(ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length < 16) throw new Error('short ciphertext');
    const decipher = createDecipheriv('chacha20-poly1305', this.#key, this.#nextIv(), { authTagLength: 16 });
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const plaintext = decipher.update(ciphertext.subarray(0, ciphertext.length - 16));
    decipher.final();
    return plaintext;
  }

  /** Noise REKEY: the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). */
  rekey(): void {
    const iv = Buffer.alloc(12, 0xff).fill(0, 0, 4);
    this.#key = createCipheriv('chacha20-poly1305', this.#key, iv, { authTagLength: 16 }).update(Buffer.alloc(32));
  }

  // Noise nonce: 32 zero bits, then the 64-bit counter little-endian.
  #nextIv(): Buffer {
    this.#iv.writeUInt32LE(this.#nonce >>> 0, 4);
    this.#iv.writeUInt32LE(Math.floor(this.#nonce / 2 ** 32), 8);
    this.#nonce++;
    return this.#iv;
  }
}

const whatIfKeys: [Uint8Array, Uint8Array] = [randomBytes(32), randomBytes(32)];

function whatIfCiphers(kind: WhatIf, dialer: boolean): TransportCiphers {
  const [toResponder, toDialer] = whatIfKeys;
  if (kind === 'none') {
    const pass = { encrypt: (p: Uint8Array) => p, decrypt: (c: Uint8Array) => c, rekey: () => undefined };
    return { send: pass, receive: pass };
  }
  return dialer
    ? { send: new NativeCipher(toResponder), receive: new NativeCipher(toDialer) }
    : { send: new NativeCipher(toDialer), receive: new NativeCipher(toResponder) };
}

/** Proves NativeCipher produces CipherState's bytes, before and after a rekey. */
function crossCheckNativeCipher(): void {
  const key = randomBytes(32);
  const reference = new CipherState(key);
  const native = new NativeCipher(key);
  const plaintext = randomBytes(1025);
  for (let i = 0; i < 3; i++) {
    if (i === 2) {
      reference.rekey();
      native.rekey();
    }
    if (!Buffer.from(reference.encrypt(plaintext)).equals(Buffer.from(native.encrypt(plaintext)))) throw new Error('NativeCipher does not match CipherState');
  }
}

interface Bench {
  server: Server;
  port: number;
  ca: string[];
  dialer: IdentityKey;
  responder: IdentityKey;
  policy: ClaimPolicy;
  /** What TLS the server negotiated last, for the report. */
  tls: string;
  close(): Promise<void>;
}

async function startServer(tls: Tls, dialer: IdentityKey, responder: IdentityKey): Promise<Bench> {
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
  const socketOptions = { noServer: true, maxPayload: 65535, perMessageDeflate: false } as const;
  const linkServer = new WebSocketServer(socketOptions);
  const echoServer = new WebSocketServer(socketOptions);
  const policy = benchPolicy(new Map([[dialerDomain, [dialer.id]]]));
  const bench: Bench = {
    server,
    port: 0,
    ca: [tls.ca],
    dialer,
    responder,
    policy,
    tls: 'unknown',
    close: async () => {
      for (const client of [...linkServer.clients, ...echoServer.clients]) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('secureConnection', (socket) => {
    bench.tls = `${socket.getProtocol() ?? '?'} ${socket.getCipher().name}`;
  });
  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'https://x');
    const path = url.pathname;
    if (path === linkPath) linkServer.handleUpgrade(request, socket, head, (ws) => void acceptLink(ws));
    else if (path === '/echo') echoServer.handleUpgrade(request, socket, head, (ws) => echo(ws, undefined));
    else if (path === '/reply') echoServer.handleUpgrade(request, socket, head, (ws) => echo(ws, Number(url.searchParams.get('bytes'))));
    else if (path === '/frames') echoServer.handleUpgrade(request, socket, head, (ws) => answerFrames(ws));
    else if (path === '/what-if/native' || path === '/what-if/none') {
      const kind: WhatIf = path.endsWith('native') ? 'native' : 'none';
      linkServer.handleUpgrade(request, socket, head, (ws) => {
        new LinkSession(ws, { peerDomain: dialerDomain, direction: 'inbound', ciphers: whatIfCiphers(kind, false), handler: answerDeliver });
      });
    } else socket.destroy();
  });
  const acceptLink = async (ws: WebSocket) => {
    try {
      const first = await nextMessage(ws, replyTimeoutMs);
      const { ciphers, claim } = await respond(first, (m) => ws.send(m), { identities: [responder], policy });
      new LinkSession(ws, { peerDomain: claim.from, direction: 'inbound', ciphers, handler: answerDeliver });
    } catch {
      ws.close(4001, 'handshake_failed');
    }
  };
  // `replyBytes` undefined echoes the request; a number answers with that many bytes.
  const echo = (ws: WebSocket, replyBytes: number | undefined) => {
    const reply = replyBytes === undefined ? undefined : randomBytes(replyBytes);
    ws.on('message', (data: Buffer) => ws.send(reply ?? data, { binary: true }));
  };
  // The same CBOR frames and schema checks as the link, without Noise and without LinkSession.
  const answerFrames = (ws: WebSocket) => {
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (frame.t !== 'deliver') throw new Error('expected deliver');
      ws.send(encodeFrame({ t: 'ack', id: frame.id, stored: frame.envelopes.map((e) => e.id), rejected: [] }), { binary: true });
    });
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  bench.port = (server.address() as AddressInfo).port;
  return bench;
}

// ---------------------------------------------------------------- measurements

/** Runs `once` with `concurrency` workers until the window closes; returns completions per second. */
async function closedLoop(concurrency: number, ms: number, once: () => Promise<void>): Promise<number> {
  let done = 0;
  const started = performance.now();
  const deadline = started + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      await once();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - started) / 1000);
}

async function plainConnect(bench: Bench): Promise<void> {
  const socket = new WebSocket(`wss://127.0.0.1:${bench.port}/echo`, { ca: bench.ca, maxPayload: 65535, perMessageDeflate: false });
  await opened(socket);
  const reply = nextMessage(socket, replyTimeoutMs);
  socket.send(randomBytes(32), { binary: true });
  await reply;
  socket.close(1000);
}

async function noiseLinkUp(bench: Bench): Promise<void> {
  const socket = new WebSocket(`wss://127.0.0.1:${bench.port}${linkPath}`, { ...linkClientOptions, ca: bench.ca });
  await opened(socket);
  const ciphers = await initiate(
    (m) => socket.send(m),
    () => nextMessage(socket, replyTimeoutMs),
    { identity: bench.dialer, ownDomain: dialerDomain, peerDomain: responderDomain, peerKey: bench.responder.id },
  );
  const session = new LinkSession(socket, { peerDomain: responderDomain, direction: 'outbound', ciphers, handler: answerDeliver });
  // Noise §7.7: the responder counts the dialer as authenticated only after this first transport message.
  await session.ping();
  session.goaway('shutting_down', 'bench done');
}

/** Pure handshake crypto: both sides in memory, plus the dialer's first transport message. */
async function memoryHandshake(bench: Bench): Promise<void> {
  let toResponder: (message: Uint8Array) => void = () => undefined;
  let toDialer: (message: Uint8Array) => void = () => undefined;
  const first = new Promise<Uint8Array>((resolve) => (toResponder = resolve));
  const second = new Promise<Uint8Array>((resolve) => (toDialer = resolve));
  const dialing = initiate(toResponder, () => second, {
    identity: bench.dialer,
    ownDomain: dialerDomain,
    peerDomain: responderDomain,
    peerKey: bench.responder.id,
  });
  const { ciphers } = await respond(await first, toDialer, { identities: [bench.responder], policy: bench.policy });
  const dialer: TransportCiphers = await dialing;
  ciphers.receive.decrypt(dialer.send.encrypt(chunkFrame(encodeFrame({ t: 'ping', id: 1, ts: Date.now() }))[0] as Uint8Array));
}

type PlainMode = 'echo' | 'reply' | 'reply-unmasked' | 'frames';

function ackFor(envelopes: Envelope[]): Frame {
  return { t: 'ack', id: 123_456, stored: envelopes.map((e) => e.id), rejected: [] };
}

/**
 * Plain WSS: `inflight` requests kept in flight on one socket, each as many bytes as the
 * encoded deliver frame of `envelopes`. `echo` sends the request back; `reply` answers with as
 * many bytes as the link's ack; `frames` sends the encoded deliver frames themselves and the
 * server decodes them and answers with an encoded ack, which the client decodes.
 */
async function plainRoundTrips(bench: Bench, mode: PlainMode, envelopes: Envelope[], ms: number): Promise<number> {
  const unmasked = mode === 'reply-unmasked';
  const path = unmasked ? 'reply' : mode;
  const query = path === 'reply' ? `?bytes=${encodeFrame(ackFor(envelopes)).length}` : '';
  // `reply-unmasked`: the same as `reply` with the link's own client options (a zero mask).
  const options = unmasked ? { ...linkClientOptions, ca: bench.ca } : { ca: bench.ca, maxPayload: 65535, perMessageDeflate: false };
  const socket = new WebSocket(`wss://127.0.0.1:${bench.port}/${path}${query}`, options);
  await opened(socket);
  const bytes = randomBytes(encodeFrame({ t: 'deliver', id: 123_456, envelopes }).length);
  let nextId = 1;
  const payload = mode === 'frames' ? () => encodeFrame({ t: 'deliver', id: nextId++, envelopes }) : () => bytes;
  if (mode === 'frames') socket.on('message', (data: Buffer) => decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  const rate = await new Promise<number>((resolve) => {
    let sent = 0;
    let done = 0;
    const started = performance.now();
    const deadline = started + ms;
    socket.on('message', () => {
      done++;
      if (performance.now() < deadline) {
        sent++;
        socket.send(payload(), { binary: true });
      } else if (done === sent) {
        resolve(done / ((performance.now() - started) / 1000));
      }
    });
    for (; sent < inflight; sent++) socket.send(payload(), { binary: true });
  });
  socket.close(1000);
  return rate;
}

/** Noise link: `inflight` deliver requests kept in flight on one LinkSession. */
async function noiseRoundTrips(session: LinkSession, envelopes: Envelope[], ms: number): Promise<number> {
  const frame: Omit<FrameOf<'deliver'>, 'id'> = { t: 'deliver', envelopes };
  return closedLoop(inflight, ms, async () => {
    await session.request<'deliver'>(frame);
  });
}

async function openWhatIfLink(bench: Bench, kind: WhatIf): Promise<LinkSession> {
  const socket = new WebSocket(`wss://127.0.0.1:${bench.port}/what-if/${kind}`, { ...linkClientOptions, ca: bench.ca });
  await opened(socket);
  const session = new LinkSession(socket, { peerDomain: responderDomain, direction: 'outbound', ciphers: whatIfCiphers(kind, true), handler: answerDeliver });
  await session.ping();
  return session;
}

async function openLink(bench: Bench): Promise<LinkSession> {
  const socket = new WebSocket(`wss://127.0.0.1:${bench.port}${linkPath}`, { ...linkClientOptions, ca: bench.ca });
  await opened(socket);
  const ciphers = await initiate(
    (m) => socket.send(m),
    () => nextMessage(socket, replyTimeoutMs),
    { identity: bench.dialer, ownDomain: dialerDomain, peerDomain: responderDomain, peerKey: bench.responder.id },
  );
  const session = new LinkSession(socket, { peerDomain: responderDomain, direction: 'outbound', ciphers, handler: answerDeliver });
  await session.ping();
  return session;
}

/** Operations per second of a synchronous step, for the per-frame cost breakdown. */
function opsPerSecond(step: () => void, ms: number): number {
  const warmUntil = performance.now() + ms / 4;
  while (performance.now() < warmUntil) step();
  let count = 0;
  const started = performance.now();
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= ms) return count / (elapsed / 1000);
    for (let i = 0; i < 32; i++) step();
    count += 32;
  }
}

function microCosts(sodium: Sodium, envelope: Envelope, ms: number): Array<{ step: string; microseconds: number }> {
  const frame: Frame = { t: 'deliver', id: 123_456, envelopes: [envelope] };
  const encoded = encodeFrame(frame);
  const [chunk] = chunkFrame(encoded) as [Uint8Array];
  const writer = new FrameWriter();
  const noEmit = (): void => undefined;
  const key = randomBytes(32);
  const sender = new CipherState(key);
  const receiver = new CipherState(key);
  const ciphertext = new CipherState(key).encrypt(chunk);
  const assembler = new FrameReader(16 * 1024 * 1024);
  const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true });
  const decoded = cbor.decode(encoded) as unknown;
  const nodeKey = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const steps: Array<[string, () => void]> = [
    ['encodeFrame (cbor-x encode)', () => encodeFrame(frame)],
    ['FrameWriter add + flush (record header, copy)', () => (writer.add(encoded, noEmit), writer.flush(noEmit))],
    ['CipherState.encrypt (libsodium wasm)', () => sender.encrypt(chunk)],
    ['  of which the libsodium AEAD call alone', () => sodium.crypto_aead_chacha20poly1305_ietf_encrypt(chunk, new Uint8Array(0), null, nonce, key)],
    [
      'CipherState.decrypt (libsodium wasm)',
      () => {
        receiver.setNonce(0n);
        receiver.decrypt(ciphertext);
      },
    ],
    ['FrameReader.push', () => assembler.push(chunk)],
    ['decodeFrame total', () => decodeFrame(encoded)],
    ['  of which CBOR decode', () => cbor.decode(encoded)],
    ['  of which zod frameSchema.safeParse', () => frameSchema.safeParse(decoded)],
    [
      'for comparison: node:crypto chacha20-poly1305 seal',
      () => {
        const cipher = createCipheriv('chacha20-poly1305', nodeKey, nonce, { authTagLength: 16 });
        cipher.update(chunk);
        cipher.final();
        cipher.getAuthTag();
      },
    ],
  ];
  // Five short windows per step and their median: one slow window (GC, a busy neighbour) does not decide.
  return steps.map(([step, run]) => ({ step, microseconds: median(Array.from({ length: 5 }, () => 1e6 / opsPerSecond(run, ms / 5))) }));
}

/**
 * What one IK handshake (both sides, as handshake.ts does it today) spends its time on: each
 * building block timed alone, times how often a handshake calls it.
 */
function handshakeCosts(sodium: Sodium, identity: IdentityKey, ms: number): Array<{ step: string; calls: number; microseconds: number }> {
  const scalar = randomBytes(32);
  const point = sodium.crypto_scalarmult_base(randomBytes(32));
  const block = randomBytes(192);
  const a = generateKeyPairSync('x25519');
  const b = generateKeyPairSync('x25519');
  const steps: Array<[string, number, () => void]> = [
    ['X25519 DH (es, ss, ee, se on each side)', 8, () => sodium.crypto_scalarmult(scalar, point)],
    ['ephemeral generateKeyPair (node:crypto randomBytes + base mult)', 2, () => generateKeyPair()],
    ['static key pair re-derived in HandshakeState (base mult)', 2, () => keyPairFromSecretKey(scalar)],
    ['Ed25519 public key to X25519 (once per key: handshake.ts remembers it)', 0, () => ed25519PublicKeyToX25519(identity.publicKey)],
    ['BLAKE2b-512 (HMAC/HKDF and MixHash, ~37 per side)', 74, () => sodium.crypto_generichash(64, block, null)],
    ['for comparison: node:crypto X25519 DH (OpenSSL)', 0, () => diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })],
    ['for comparison: node:crypto randomBytes(32)', 0, () => randomBytes(32)],
    ['for comparison: libsodium randombytes_buf(32)', 0, () => sodium.randombytes_buf(32)],
  ];
  return steps.map(([step, calls, run]) => ({ step, calls, microseconds: median(Array.from({ length: 5 }, () => 1e6 / opsPerSecond(run, ms / 5))) }));
}

/** X25519 scalar multiplications per second: the floor under any IK handshake rate. */
async function x25519PerSecond(ms: number): Promise<number> {
  const sodium = await loadSodium();
  const scalar = randomBytes(32);
  const point = sodium.crypto_scalarmult_base(randomBytes(32));
  return opsPerSecond(() => sodium.crypto_scalarmult(scalar, point), ms);
}

async function settle(): Promise<void> {
  // Let closing sockets finish so one measurement does not pay for the previous one.
  await new Promise((resolve) => setTimeout(resolve, 150));
}

// ---------------------------------------------------------------- statistics and report

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface Series {
  name: string;
  unit: string;
  workload: string;
  values: number[];
}

function fmt(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function line(series: Series): string {
  const min = Math.min(...series.values);
  const max = Math.max(...series.values);
  return `  ${series.name.padEnd(52)} median ${fmt(median(series.values)).padStart(8)} ${series.unit}   (min ${fmt(min)}, max ${fmt(max)})`;
}

function ratioLine(label: string, noise: Series, reference: Series): { label: string; ratio: number; perRep: number[] } {
  const perRep = noise.values.map((v, i) => v / (reference.values[i] as number));
  const ratio = median(noise.values) / median(reference.values);
  console.log(`  ${label.padEnd(52)} ${ratio.toFixed(3)}   (per repetition: ${perRep.map((r) => r.toFixed(3)).join(', ')})`);
  return { label, ratio, perRep };
}

interface Workloads {
  bench: Bench;
  one: Envelope[];
  batch: Envelope[];
  link: LinkSession;
  nativeLink: LinkSession;
  noneLink: LinkSession;
}

function workloads(w: Workloads, ms: number): Record<string, () => Promise<number>> {
  const { bench, one, batch } = w;
  return {
    'plain-connect': () => closedLoop(handshakeConcurrency, ms, () => plainConnect(bench)),
    'noise-link-up': () => closedLoop(handshakeConcurrency, ms, () => noiseLinkUp(bench)),
    'memory-handshake': () => closedLoop(1, ms / 2, () => memoryHandshake(bench)),
    'x25519-floor': async () => (await x25519PerSecond(ms / 4)) / 10,
    'plain-echo': () => plainRoundTrips(bench, 'echo', one, ms),
    'plain-matched': () => plainRoundTrips(bench, 'reply', one, ms),
    'plain-unmasked': () => plainRoundTrips(bench, 'reply-unmasked', one, ms),
    'plain-frames': () => plainRoundTrips(bench, 'frames', one, ms),
    'noise-rt': () => noiseRoundTrips(w.link, one, ms),
    'native-rt': () => noiseRoundTrips(w.nativeLink, one, ms),
    'none-rt': () => noiseRoundTrips(w.noneLink, one, ms),
    'plain-batch': () => plainRoundTrips(bench, 'reply', batch, ms),
    'noise-batch': () => noiseRoundTrips(w.link, batch, ms),
  };
}

async function main(): Promise<void> {
  await ready();
  const tls = makeTls();
  const [dialer, responder] = await Promise.all([makeIdentity(), makeIdentity()]);
  const bench = await startServer(tls, dialer, responder);
  try {
    const { envelope, encodedBytes } = deliverOfSize(frameBytes);
    const one = [envelope];
    const batch = Array.from({ length: batchSize }, () => envelope);
    const ackBytes = encodeFrame(ackFor(one)).length;
    const batchBytes = encodeFrame({ t: 'deliver', id: 123_456, envelopes: batch }).length;
    const batchAckBytes = encodeFrame(ackFor(batch)).length;
    const cpu = cpus();
    console.log(
      `Consulate link benchmark: node ${process.version}, OpenSSL ${process.versions.openssl}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
    );
    console.log(`${reps} repetitions × ${windowMs / 1000} s per measurement, median reported; loopback 127.0.0.1, P-256 test CA`);
    console.log(
      `deliver frame ${encodedBytes} B (Noise message ${encodedBytes + 1 + 16} B), ack frame ${ackBytes} B, ${inflight} requests in flight on one link\n`,
    );

    crossCheckNativeCipher();
    await plainConnect(bench);
    console.log(
      `TLS as negotiated: ${bench.tls}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const w: Workloads = {
      bench,
      one,
      batch,
      link: await openLink(bench),
      nativeLink: await openWhatIfLink(bench, 'native'),
      noneLink: await openWhatIfLink(bench, 'none'),
    };
    const timed = workloads(w, windowMs);
    if (options.only) {
      const run = timed[options.only];
      if (!run) throw new Error(`--only must be one of ${Object.keys(timed).join(', ')}`);
      const values: number[] = [];
      for (let rep = 0; rep < reps; rep++) values.push(await run());
      console.log(`${options.only}: median ${fmt(median(values))}/s over ${reps} × ${windowMs / 1000} s (${values.map(fmt).join(', ')})`);
      return;
    }
    // Warm-up so the JIT has seen every path before the first timed window.
    for (const run of Object.values(workloads(w, 300))) await run();
    await settle();

    const series = (name: string, unit: string, workload: string): Series => ({ name, unit, workload, values: [] });
    const plainConnects = series(`plain WSS connect + 32 B echo, ${handshakeConcurrency} at once`, 'conn/s', 'plain-connect');
    const noiseLinkUps = series(`Noise link-up (WSS + IK + first ping), ${handshakeConcurrency} at once`, 'links/s', 'noise-link-up');
    const memory = series('IK handshake in memory (+ first transport msg)', 'hs/s', 'memory-handshake');
    const x25519 = series('X25519 scalar mult (libsodium), ÷ 10 per handshake', 'hs/s', 'x25519-floor');
    const plainEcho = series(`plain WSS echo ${encodedBytes} B ⇄ ${encodedBytes} B`, 'rt/s', 'plain-echo');
    const plainMatched = series(`plain WSS ${encodedBytes} B ⇄ ${ackBytes} B (same bytes as Noise)`, 'rt/s', 'plain-matched');
    const plainUnmasked = series(`the same, the link's client options (zero mask)`, 'rt/s', 'plain-unmasked');
    const plainFrames = series('plain WSS + same CBOR frames and schema checks', 'rt/s', 'plain-frames');
    const noiseRt = series(`Noise link deliver ${encodedBytes} B ⇄ ack ${ackBytes} B`, 'rt/s', 'noise-rt');
    const nativeRt = series('what-if: same LinkSession, node:crypto AEAD', 'rt/s', 'native-rt');
    const noneRt = series('what-if: same LinkSession, no encryption', 'rt/s', 'none-rt');
    const plainBatch = series(`plain WSS ${batchBytes} B ⇄ ${batchAckBytes} B`, 'rt/s', 'plain-batch');
    const noiseBatch = series(`Noise deliver of ${batchSize} envelopes ${batchBytes} B ⇄ ack`, 'rt/s', 'noise-batch');
    const groups = [
      [plainConnects, noiseLinkUps],
      [memory, x25519],
      [plainEcho, plainMatched, plainUnmasked, plainFrames, noiseRt, nativeRt, noneRt],
      [plainBatch, noiseBatch],
    ];

    for (let rep = 0; rep < reps; rep++) {
      // Reversing the order every other repetition spreads slow drift (GC, busy neighbours) over both sides.
      for (const group of groups) {
        for (const item of rep % 2 === 0 ? group : [...group].reverse()) {
          item.values.push(await (timed[item.workload] as () => Promise<number>)());
          await settle();
        }
      }
      console.log(`  repetition ${rep + 1}/${reps} done`);
    }

    console.log('\n(a) handshakes');
    for (const item of [plainConnects, noiseLinkUps, memory, x25519]) console.log(line(item));
    const ratios = [
      ratioLine('ratio Noise link-up / plain WSS connect', noiseLinkUps, plainConnects),
      ratioLine('ratio in-memory IK / X25519 floor (÷ 10)', memory, x25519),
    ];

    console.log(`\n(b) request/response over one link, ${inflight} in flight`);
    for (const item of [plainEcho, plainMatched, plainUnmasked, plainFrames, noiseRt, nativeRt, noneRt]) console.log(line(item));
    const target = ratioLine('ratio Noise / plain same bytes (the target)', noiseRt, plainMatched);
    ratios.push(
      ratioLine('ratio Noise / plain echo', noiseRt, plainEcho),
      target,
      ratioLine('ratio Noise / plain same bytes, both unmasked', noiseRt, plainUnmasked),
      ratioLine('ratio plain with frames / plain same bytes', plainFrames, plainMatched),
      ratioLine('ratio Noise / plain with the same frames', noiseRt, plainFrames),
      ratioLine('what-if ratio, node:crypto AEAD / plain same bytes', nativeRt, plainMatched),
      ratioLine('what-if ratio, no encryption / plain same bytes', noneRt, plainMatched),
    );
    const met = target.ratio >= 0.75;
    console.log(`  target ratio >= 0.75 (Noise costs at most 25 %): ${met ? 'MET' : 'MISSED'}`);

    console.log(`\n(c) the same with ${batchSize} envelopes per deliver frame, ${inflight} in flight`);
    for (const item of [plainBatch, noiseBatch]) console.log(line(item));
    ratios.push(ratioLine('ratio Noise / plain same bytes, batched', noiseBatch, plainBatch));
    console.log(
      `  envelopes per second: Noise ${fmt(median(noiseBatch.values) * batchSize)}, unbatched Noise ${fmt(median(noiseRt.values))}, plain unbatched ${fmt(median(plainMatched.values))}`,
    );

    const sodium = await loadSodium();
    console.log('\nper-frame cost breakdown (one core, no sockets)');
    const costs = microCosts(sodium, envelope, options.quick ? 50 : 250);
    for (const { step, microseconds } of costs) console.log(`  ${step.padEnd(52)} ${microseconds.toFixed(2).padStart(8)} µs`);

    console.log('\nIK handshake building blocks (one core; calls per handshake, both sides)');
    const blocks = handshakeCosts(sodium, responder, options.quick ? 100 : 500);
    let estimate = 0;
    for (const { step, calls, microseconds } of blocks) {
      estimate += calls * microseconds;
      const total = calls ? ` × ${calls} = ${(calls * microseconds).toFixed(0).padStart(5)} µs` : '';
      console.log(`  ${step.padEnd(58)} ${microseconds.toFixed(1).padStart(8)} µs${total}`);
    }
    const measured = 1000 / median(memory.values);
    console.log(
      `  ${'sum of the above'.padEnd(58)} ${(estimate / 1000).toFixed(2).padStart(8)} ms, measured in memory: ${measured.toFixed(2)} ms per handshake`,
    );

    console.log(
      `\nload average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    for (const session of [w.link, w.nativeLink, w.noneLink]) session.goaway('shutting_down', 'bench done');
    if (options.json) {
      const all = groups.flat().map((item) => ({ ...item, median: median(item.values) }));
      const summary = { node: process.version, cpus: cpu.length, cpu: cpu[0]?.model.trim(), reps, windowMs, inflight, frameBytes: encodedBytes, batchSize };
      console.log(JSON.stringify({ ...summary, series: all, ratios, costs, blocks, targetMet: met }, null, 2));
    }
  } finally {
    await bench.close();
    rmSync(tls.dir, { recursive: true, force: true });
  }
}

await main();
// Sessions and sockets are closed; anything left (a lingering TLS close) must not keep the run alive.
process.exit(0);
