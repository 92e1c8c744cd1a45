import { readFileSync } from 'node:fs';
import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import { CipherState, HandshakeState, NoiseError, keyPairFromSecretKey, maxMessageLength, ready, type SplitCipherStates } from '../../service/link/noise.js';

interface VectorMessage {
  payload: string;
  ciphertext: string;
}

/** The fields both formats share; cacophony/snow name the protocol `protocol_name`, noise-c `name`. */
interface Vector {
  protocol_name?: string;
  name?: string;
  init_prologue: string;
  init_psks?: string[];
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  handshake_hash?: string;
  messages: VectorMessage[];
}

interface VectorSource {
  repository: string;
  array?: string;
  vectors_index_range: [number, number];
}

interface VectorFile {
  sources: VectorSource[];
  vectors: Vector[];
  noise_c_vectors: Vector[];
}

// A verbatim copy of the shared public vectors (../shared/vectors/noise.json beside the
// repository; their sources are listed inside), so that any clone can run them.
const file = JSON.parse(readFileSync(new URL('./vectors/noise.json', import.meta.url), 'utf8')) as VectorFile;

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const optionalHex = (hex: string | undefined): Uint8Array | undefined => (hex === undefined ? undefined : fromHex(hex));
const optionalKeyPair = (hex: string | undefined) => (hex === undefined ? undefined : keyPairFromSecretKey(fromHex(hex)));

function sourceOf(array: 'vectors' | 'noise_c_vectors', index: number): string {
  const source = file.sources.find((s) => (s.array ?? 'vectors') === array && index >= s.vectors_index_range[0] && index <= s.vectors_index_range[1]);
  return `${source?.repository ?? 'unknown source'} #${index}`;
}

const cases = [
  ...file.vectors.map((vector, index) => ({ vector, label: sourceOf('vectors', index) })),
  ...file.noise_c_vectors.map((vector, index) => ({ vector, label: sourceOf('noise_c_vectors', index) })),
].map(({ vector, label }) => ({ vector, title: `${vector.protocol_name ?? vector.name ?? '?'} [${label}]` }));

function expectNoiseError(action: () => unknown, code: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NoiseError);
  expect((caught as NoiseError).code).toBe(code);
}

function runVector(vector: Vector): void {
  const protocolName = vector.protocol_name ?? vector.name ?? '';
  const initiator = new HandshakeState({
    protocolName,
    initiator: true,
    prologue: fromHex(vector.init_prologue),
    staticKeyPair: optionalKeyPair(vector.init_static),
    ephemeralKeyPair: optionalKeyPair(vector.init_ephemeral),
    remoteStaticPublicKey: optionalHex(vector.init_remote_static),
    psks: (vector.init_psks ?? []).map(fromHex),
  });
  const responder = new HandshakeState({
    protocolName,
    initiator: false,
    prologue: fromHex(vector.resp_prologue),
    staticKeyPair: optionalKeyPair(vector.resp_static),
    ephemeralKeyPair: optionalKeyPair(vector.resp_ephemeral),
    remoteStaticPublicKey: optionalHex(vector.resp_remote_static),
    psks: (vector.resp_psks ?? []).map(fromHex),
  });

  let initiatorCiphers: SplitCipherStates | undefined;
  let responderCiphers: SplitCipherStates | undefined;
  vector.messages.forEach((message, index) => {
    const fromInitiator = index % 2 === 0;
    const payload = fromHex(message.payload);
    let ciphertext: Uint8Array;
    let received: Uint8Array;
    if (!initiator.isComplete()) {
      const [writer, reader] = fromInitiator ? [initiator, responder] : [responder, initiator];
      ciphertext = writer.writeMessage(payload);
      expect(toHex(ciphertext), `handshake message ${index}`).toBe(message.ciphertext);
      received = reader.readMessage(ciphertext);
    } else {
      initiatorCiphers ??= initiator.split();
      responderCiphers ??= responder.split();
      const [sender, receiver] = fromInitiator ? [initiatorCiphers.send, responderCiphers.receive] : [responderCiphers.send, initiatorCiphers.receive];
      ciphertext = sender.encrypt(payload);
      expect(toHex(ciphertext), `transport message ${index}`).toBe(message.ciphertext);
      received = receiver.decrypt(ciphertext);
    }
    expect(toHex(received), `payload of message ${index}`).toBe(message.payload);
  });

  // Every vector carries transport messages, so both sides must have finished and split.
  expect(initiatorCiphers).toBeDefined();
  expect(responder.isComplete()).toBe(true);
  expect(toHex(initiator.getHandshakeHash())).toBe(toHex(responder.getHandshakeHash()));
  if (vector.handshake_hash !== undefined) expect(toHex(initiator.getHandshakeHash())).toBe(vector.handshake_hash);
  if (vector.init_remote_static === undefined && vector.resp_static !== undefined) {
    // XX: the initiator learned the responder's static key from the handshake itself.
    expect(toHex(initiator.getRemoteStaticPublicKey() ?? new Uint8Array(0))).toBe(toHex(keyPairFromSecretKey(fromHex(vector.resp_static)).publicKey));
  }
  if (vector.init_static !== undefined) {
    expect(toHex(responder.getRemoteStaticPublicKey() ?? new Uint8Array(0))).toBe(toHex(keyPairFromSecretKey(fromHex(vector.init_static)).publicKey));
  }
}

beforeAll(async () => {
  await ready();
});

describe('Noise test vectors', () => {
  it('covers every IK and XX vector in the file', () => {
    expect(cases.length).toBe(file.vectors.length + file.noise_c_vectors.length);
    expect(cases.length).toBeGreaterThanOrEqual(28);
    for (const { vector } of cases) expect(vector.protocol_name ?? vector.name).toMatch(/^Noise_(IK|XX)(psk\d(\+psk\d)*)?_25519_ChaChaPoly_(BLAKE2b|SHA256)$/);
  });

  for (const { vector, title } of cases) {
    it(title, () => {
      runVector(vector);
    });
  }
});

// Deterministic IK sessions built from the first cacophony vector's keys.
function ikPair(protocolName = 'Noise_IK_25519_ChaChaPoly_BLAKE2b'): { initiator: HandshakeState; responder: HandshakeState } {
  const vector = file.vectors.find((v) => v.protocol_name === protocolName);
  if (!vector?.init_static || !vector.resp_static || !vector.resp_ephemeral) throw new Error(`no ${protocolName} vector`);
  const responderStatic = keyPairFromSecretKey(fromHex(vector.resp_static));
  return {
    initiator: new HandshakeState({
      protocolName,
      initiator: true,
      staticKeyPair: keyPairFromSecretKey(fromHex(vector.init_static)),
      ephemeralKeyPair: keyPairFromSecretKey(fromHex(vector.init_ephemeral)),
      remoteStaticPublicKey: responderStatic.publicKey,
    }),
    responder: new HandshakeState({
      protocolName,
      initiator: false,
      staticKeyPair: responderStatic,
      ephemeralKeyPair: keyPairFromSecretKey(fromHex(vector.resp_ephemeral)),
    }),
  };
}

function completedIk(): { initiator: SplitCipherStates; responder: SplitCipherStates } {
  const { initiator, responder } = ikPair();
  responder.readMessage(initiator.writeMessage());
  initiator.readMessage(responder.writeMessage());
  return { initiator: initiator.split(), responder: responder.split() };
}

describe('Noise failure modes', () => {
  it('rejects a tampered handshake message with decrypt_failed and refuses to continue', () => {
    const { initiator, responder } = ikPair();
    const message = initiator.writeMessage(new TextEncoder().encode('hello'));
    message[message.length - 1]! ^= 0x01;
    expectNoiseError(() => responder.readMessage(message), 'decrypt_failed');
    // The handshake hash is already polluted, so the state must not accept a retry.
    expectNoiseError(() => responder.readMessage(initiator.getHandshakeHash()), 'bad_state');
  });

  it('rejects a tampered transport message with decrypt_failed without losing sync', () => {
    const { initiator, responder } = completedIk();
    const good = initiator.send.encrypt(new TextEncoder().encode('envelope'));
    const tampered = Uint8Array.from(good);
    tampered[0]! ^= 0x80;
    expectNoiseError(() => responder.receive.decrypt(tampered), 'decrypt_failed');
    expect(new TextDecoder().decode(responder.receive.decrypt(good))).toBe('envelope');
  });

  it('rejects a truncated transport message', () => {
    const { initiator, responder } = completedIk();
    const message = initiator.send.encrypt(new Uint8Array(4));
    expectNoiseError(() => responder.receive.decrypt(message.slice(0, 10)), 'decrypt_failed');
  });

  it('refuses messages over 65535 bytes in both directions', () => {
    const { initiator, responder } = completedIk();
    expect(maxMessageLength).toBe(65535);
    expect(initiator.send.encrypt(new Uint8Array(maxMessageLength - 16))).toHaveLength(maxMessageLength);
    expectNoiseError(() => initiator.send.encrypt(new Uint8Array(maxMessageLength - 15)), 'message_too_large');
    expectNoiseError(() => responder.receive.decrypt(new Uint8Array(maxMessageLength + 1)), 'message_too_large');

    const handshake = ikPair();
    // IK message 1: e (32) + encrypted s (48) + payload + tag (16).
    expectNoiseError(() => handshake.initiator.writeMessage(new Uint8Array(maxMessageLength - 96 + 1)), 'message_too_large');
    // Refusal happens before any state change, so a smaller payload still works.
    const largest = handshake.initiator.writeMessage(new Uint8Array(maxMessageLength - 96));
    expect(largest).toHaveLength(maxMessageLength);
    expect(handshake.responder.readMessage(largest)).toHaveLength(maxMessageLength - 96);
    expectNoiseError(() => ikPair().responder.readMessage(new Uint8Array(maxMessageLength + 1)), 'message_too_large');
  });

  it('rekey changes the key and both sides stay in sync', () => {
    const rekeyed = completedIk();
    const plain = completedIk();
    const payload = new TextEncoder().encode('after rekey');

    rekeyed.initiator.send.rekey();
    rekeyed.responder.receive.rekey();
    const afterRekey = rekeyed.initiator.send.encrypt(payload);
    // Same handshake, same nonce: only the key differs.
    expect(toHex(afterRekey)).not.toBe(toHex(plain.initiator.send.encrypt(payload)));
    expect(toHex(rekeyed.responder.receive.decrypt(afterRekey))).toBe(toHex(payload));
    // A side that did not rekey cannot read the new traffic.
    expectNoiseError(() => plain.responder.receive.decrypt(afterRekey), 'decrypt_failed');

    // The nonce is not reset by rekey (spec §4.2).
    expect(rekeyed.initiator.send.getNonce()).toBe(1n);
    for (let i = 0; i < 3; i++) {
      rekeyed.initiator.send.rekey();
      rekeyed.responder.receive.rekey();
      const message = rekeyed.initiator.send.encrypt(payload);
      expect(toHex(rekeyed.responder.receive.decrypt(message))).toBe(toHex(payload));
    }
  });

  it('rekey follows the spec formula k = ENCRYPT(k, 2^64-1, empty, 32 zeros)[0..32]', () => {
    const key = new Uint8Array(32).fill(7);
    const maxNonce = Uint8Array.of(0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    const expectedKey = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(new Uint8Array(32), new Uint8Array(0), null, maxNonce, key).slice(0, 32);
    const rekeyed = new CipherState(key);
    rekeyed.rekey();
    const payload = new TextEncoder().encode('rekey');
    expect(toHex(rekeyed.encrypt(payload))).toBe(toHex(new CipherState(expectedKey).encrypt(payload)));
  });

  it('signals nonce_exhausted at 2^64-1', () => {
    const cipher = new CipherState(new Uint8Array(32).fill(1));
    cipher.setNonce((1n << 64n) - 2n);
    cipher.encrypt(new Uint8Array(1));
    expectNoiseError(() => cipher.encrypt(new Uint8Array(1)), 'nonce_exhausted');
    expectNoiseError(() => cipher.decrypt(new Uint8Array(17)), 'nonce_exhausted');
  });

  it('refuses out-of-turn, repeated and premature calls with bad_state', () => {
    const { initiator, responder } = ikPair();
    expectNoiseError(() => responder.writeMessage(), 'bad_state');
    expectNoiseError(() => initiator.split(), 'bad_state');
    responder.readMessage(initiator.writeMessage());
    expectNoiseError(() => initiator.writeMessage(), 'bad_state');
    initiator.readMessage(responder.writeMessage());
    expectNoiseError(() => initiator.writeMessage(), 'bad_state');
    initiator.split();
    expectNoiseError(() => initiator.split(), 'bad_state');
  });

  it('refuses an IK initiator without the pinned responder key', () => {
    expectNoiseError(
      () =>
        new HandshakeState({
          protocolName: 'Noise_IK_25519_ChaChaPoly_BLAKE2b',
          initiator: true,
          staticKeyPair: keyPairFromSecretKey(new Uint8Array(32).fill(3)),
        }),
      'missing_key',
    );
    expectNoiseError(() => new HandshakeState({ protocolName: 'Noise_NN_25519_ChaChaPoly_BLAKE2b', initiator: true }), 'unsupported_protocol');
    expectNoiseError(() => new HandshakeState({ protocolName: 'Noise_XX_25519_AESGCM_SHA256', initiator: true }), 'unsupported_protocol');
  });
});
