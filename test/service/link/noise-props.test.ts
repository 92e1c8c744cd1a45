import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  HandshakeState,
  NoiseError,
  ed25519KeyPairToX25519,
  generateKeyPair,
  ready,
  type KeyPair,
  type SplitCipherStates,
} from '../../../service/link/noise.js';
import { hmac, noiseHash } from '../../../service/link/noise-crypto.js';

const protocolName = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';
const prologue = new TextEncoder().encode('consulate/1');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

beforeAll(async () => {
  await ready();
});

interface Peers {
  initiator: HandshakeState;
  responder: HandshakeState;
  initiatorStatic: KeyPair;
}

// Static keys come from Ed25519 identities, as in the product (DESIGN.md, Trust).
function identityStaticKey(): KeyPair {
  const identity = sodium.crypto_sign_keypair();
  return ed25519KeyPairToX25519({ publicKey: identity.publicKey, secretKey: identity.privateKey });
}

function ikPeers(): Peers {
  const initiatorStatic = identityStaticKey();
  const responderStatic = identityStaticKey();
  return {
    initiatorStatic,
    initiator: new HandshakeState({
      protocolName,
      initiator: true,
      prologue,
      staticKeyPair: initiatorStatic,
      remoteStaticPublicKey: responderStatic.publicKey,
    }),
    responder: new HandshakeState({ protocolName, initiator: false, prologue, staticKeyPair: responderStatic }),
  };
}

function handshake(peers: Peers): { initiator: SplitCipherStates; responder: SplitCipherStates } {
  peers.responder.readMessage(peers.initiator.writeMessage());
  peers.initiator.readMessage(peers.responder.writeMessage());
  return { initiator: peers.initiator.split(), responder: peers.responder.split() };
}

function flipBit(message: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(message);
  const index = bit % (copy.length * 8);
  copy[index >> 3]! ^= 1 << (index & 7);
  return copy;
}

function rejectionCode(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof NoiseError ? error.code : `not a NoiseError: ${String(error)}`;
  }
  return undefined;
}

const payload = fc.uint8Array({ maxLength: 2048 });

describe('Noise IK properties', () => {
  it('random payloads round-trip through a full IK handshake and transport', () => {
    fc.assert(
      fc.property(payload, payload, fc.array(fc.tuple(fc.boolean(), payload), { maxLength: 12 }), (first, second, transport) => {
        const peers = ikPeers();
        expect(toHex(peers.responder.readMessage(peers.initiator.writeMessage(first)))).toBe(toHex(first));
        // The responder can look up the pin before answering.
        expect(toHex(peers.responder.getRemoteStaticPublicKey() ?? new Uint8Array(0))).toBe(toHex(peers.initiatorStatic.publicKey));
        expect(toHex(peers.initiator.readMessage(peers.responder.writeMessage(second)))).toBe(toHex(second));
        expect(toHex(peers.initiator.getHandshakeHash())).toBe(toHex(peers.responder.getHandshakeHash()));

        const initiator = peers.initiator.split();
        const responder = peers.responder.split();
        for (const [fromInitiator, message] of transport) {
          const [sender, receiver] = fromInitiator ? [initiator.send, responder.receive] : [responder.send, initiator.receive];
          const ciphertext = sender.encrypt(message);
          expect(ciphertext).toHaveLength(message.length + 16);
          expect(toHex(receiver.decrypt(ciphertext))).toBe(toHex(message));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rejects any single flipped bit in either IK handshake message', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1), payload, fc.nat(), (messageIndex, body, bit) => {
        const peers = ikPeers();
        let message = peers.initiator.writeMessage(body);
        if (messageIndex === 1) {
          peers.responder.readMessage(message);
          message = peers.responder.writeMessage(body);
        }
        const reader = messageIndex === 0 ? peers.responder : peers.initiator;
        // A flipped ephemeral bit changes h (the AEAD associated data) even where X25519 ignores it.
        expect(['decrypt_failed', 'invalid_key']).toContain(rejectionCode(() => reader.readMessage(flipBit(message, bit))));
        // The failed handshake stays failed: the untouched message is no longer accepted either.
        expect(rejectionCode(() => reader.readMessage(message))).toBe('bad_state');
      }),
      { numRuns: 150 },
    );
  });

  it('rejects any single flipped bit in a transport message and keeps the session usable', () => {
    fc.assert(
      fc.property(fc.boolean(), payload, fc.nat(), (fromInitiator, body, bit) => {
        const { initiator, responder } = handshake(ikPeers());
        const [sender, receiver] = fromInitiator ? [initiator.send, responder.receive] : [responder.send, initiator.receive];
        const ciphertext = sender.encrypt(body);
        expect(rejectionCode(() => receiver.decrypt(flipBit(ciphertext, bit)))).toBe('decrypt_failed');
        expect(toHex(receiver.decrypt(ciphertext))).toBe(toHex(body));
      }),
      { numRuns: 150 },
    );
  });
});

describe('Noise XX properties', () => {
  it('random payloads round-trip through XX and each side learns the other static key', () => {
    fc.assert(
      fc.property(fc.array(payload, { minLength: 3, maxLength: 3 }), payload, (handshakePayloads, transportPayload) => {
        const initiatorStatic = generateKeyPair();
        const responderStatic = generateKeyPair();
        const initiator = new HandshakeState({ protocolName: 'Noise_XX_25519_ChaChaPoly_SHA256', initiator: true, staticKeyPair: initiatorStatic });
        const responder = new HandshakeState({ protocolName: 'Noise_XX_25519_ChaChaPoly_SHA256', initiator: false, staticKeyPair: responderStatic });
        handshakePayloads.forEach((body, index) => {
          const [writer, reader] = index % 2 === 0 ? [initiator, responder] : [responder, initiator];
          expect(toHex(reader.readMessage(writer.writeMessage(body)))).toBe(toHex(body));
        });
        expect(toHex(initiator.getRemoteStaticPublicKey() ?? new Uint8Array(0))).toBe(toHex(responderStatic.publicKey));
        expect(toHex(responder.getRemoteStaticPublicKey() ?? new Uint8Array(0))).toBe(toHex(initiatorStatic.publicKey));
        const ciphertext = responder.split().send.encrypt(transportPayload);
        expect(toHex(initiator.split().receive.decrypt(ciphertext))).toBe(toHex(transportPayload));
      }),
      { numRuns: 40 },
    );
  });
});

describe('Noise HMAC', () => {
  it('matches node:crypto HMAC for every supported hash, including keys longer than a block', () => {
    const nodeNames = { BLAKE2b: 'blake2b512', SHA256: 'sha256', SHA512: 'sha512' } as const;
    fc.assert(
      fc.property(fc.constantFrom(...(['BLAKE2b', 'SHA256', 'SHA512'] as const)), fc.uint8Array({ maxLength: 200 }), payload, (name, key, data) => {
        const hash = noiseHash(name);
        if (!hash) throw new Error(`no ${name}`);
        expect(toHex(hmac(hash, key, data))).toBe(createHmac(nodeNames[name], key).update(data).digest('hex'));
      }),
      { numRuns: 100 },
    );
  });
});
