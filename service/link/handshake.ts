import { createHash } from 'node:crypto';
import { Encoder } from 'cbor-x';

// int64AsNumber exists in cbor-x's decoder but not in its type definitions.
type EncoderOptions = ConstructorParameters<typeof Encoder>[0];
import type { IdentityKey } from '../identity/identity.js';
import { fromBase64Url } from '../crypto/sodium.js';
import { LinkError, isLinkErrorCode, type LinkErrorCode } from './errors.js';
import { HandshakeState, ed25519KeyPairToX25519, ed25519PublicKeyToX25519, ready, type KeyPair } from './noise.js';
import type { TransportCiphers } from './session.js';

export const protocolName = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';
export const prologue = new TextEncoder().encode('consulate/1');
export const linkPath = '/_consulate/v1/link';

/**
 * WebSocket options of every dialer of a link. A zero mask: every payload is Noise ciphertext
 * inside TLS, so RFC 6455 client masking (a copy and an XOR over every byte on both ends)
 * protects nothing here; ws skips it when the mask is zero, on sending and on receiving.
 */
export const linkClientOptions = {
  maxPayload: 65535,
  perMessageDeflate: false,
  generateMask: (mask: Buffer): void => {
    mask.fill(0);
  },
} as const;
export const linkVersion = 1;

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, int64AsNumber: true } as EncoderOptions);

/**
 * Converting an Ed25519 key to X25519 costs about 0.1 ms of libsodium WebAssembly, and a
 * handshake did it four times (our key pair on each side, the pin on each side) for keys that
 * rarely change: the conversions are remembered. Pins by their text (bounded; a pin that fails to
 * convert is not remembered), our own key pairs for as long as the identity object lives.
 * HandshakeState copies the key pair it is given and wipes only its copy.
 */
const pinConversions = new Map<string, Uint8Array>();
const PIN_CONVERSIONS_MAX = 1024;
const ownConversions = new WeakMap<IdentityKey, KeyPair>();

function pinToX25519(pin: string): Uint8Array {
  let converted = pinConversions.get(pin);
  if (!converted) {
    converted = ed25519PublicKeyToX25519(fromBase64Url(pin));
    if (pinConversions.size >= PIN_CONVERSIONS_MAX) pinConversions.clear();
    pinConversions.set(pin, converted);
  }
  return converted;
}

function ownStatic(identity: IdentityKey): KeyPair {
  let pair = ownConversions.get(identity);
  if (!pair) ownConversions.set(identity, (pair = ed25519KeyPairToX25519(identity)));
  return pair;
}

/** First handshake payload, initiator → responder. */
export interface DialerClaim {
  v: number;
  from: string;
  to: string;
  ts: number;
}

/** Second handshake payload, responder → initiator. */
export type ResponderVerdict = { v: number; ok: true; ts: number } | { v: number; ok: false; code: string; message: string };

/**
 * Initiator side of the IK handshake. `peerKey` is the pinned Ed25519 key (base64url); its
 * X25519 form is the responder static that message 1 is encrypted to.
 */
export async function initiate(
  send: (message: Uint8Array) => void,
  receive: () => Promise<Uint8Array>,
  options: { identity: IdentityKey; ownDomain: string; peerDomain: string; peerKey: string; now?: () => number },
): Promise<TransportCiphers & { peerTime: number }> {
  await ready();
  const handshake = new HandshakeState({
    protocolName,
    initiator: true,
    prologue,
    staticKeyPair: ownStatic(options.identity),
    remoteStaticPublicKey: pinToX25519(options.peerKey),
  });
  const claim: DialerClaim = { v: linkVersion, from: options.ownDomain, to: options.peerDomain, ts: (options.now ?? Date.now)() };
  send(handshake.writeMessage(cbor.encode(claim)));
  let reply: Uint8Array;
  try {
    reply = await receive();
  } catch (error) {
    if (error instanceof LinkError && error.code === 'handshake_failed') {
      // The responder could not open message 1: it was encrypted to a key it does not hold.
      throw new LinkError('key_mismatch', `${options.peerDomain} could not decrypt our handshake: the key pinned for it does not match its identity key`);
    }
    throw error;
  }
  let verdict: ResponderVerdict;
  try {
    verdict = cbor.decode(handshake.readMessage(reply)) as ResponderVerdict;
  } catch (error) {
    throw new LinkError('key_mismatch', `${options.peerDomain} answered with a key other than the one pinned for it`, { cause: error });
  }
  if (!verdict || typeof verdict !== 'object' || verdict.v !== linkVersion)
    throw new LinkError('protocol_version', `${options.peerDomain} speaks an unsupported link version`);
  if (!verdict.ok) {
    throw new LinkError(isLinkErrorCode(verdict.code) ? verdict.code : 'handshake_failed', `${options.peerDomain} refused the link: ${verdict.message}`);
  }
  const { send: sendCipher, receive: receiveCipher } = handshake.split();
  return { send: sendCipher, receive: receiveCipher, peerTime: verdict.ts };
}

export interface AcceptedClaim {
  claim: DialerClaim;
  /** The dialer's Noise static key (X25519), which the policy compares with the pins. */
  remoteStatic: Uint8Array;
  /** Digest of message 1, for the replay cache. */
  messageDigest: string;
}

/** The responder's decision on a claim: undefined to accept, or a refusal. */
export type ClaimPolicy = (accepted: AcceptedClaim) => Promise<{ code: LinkErrorCode; message: string } | undefined>;

/**
 * Responder side. Tries each local identity (the active one, then keys in their
 * rotation grace period) to open message 1. Per Noise §7.7 the claim is used only to
 * find the pin; the dialer is authenticated once its first transport message decrypts,
 * which the caller checks.
 */
export async function respond(
  firstMessage: Uint8Array,
  send: (message: Uint8Array) => void,
  options: { identities: IdentityKey[]; policy: ClaimPolicy; now?: () => number },
): Promise<{ ciphers: TransportCiphers; claim: DialerClaim }> {
  await ready();
  let handshake: HandshakeState | undefined;
  let payload: Uint8Array | undefined;
  for (const identity of options.identities) {
    const candidate = new HandshakeState({ protocolName, initiator: false, prologue, staticKeyPair: ownStatic(identity) });
    try {
      payload = candidate.readMessage(firstMessage);
      handshake = candidate;
      break;
    } catch {
      // not encrypted to this identity; try the next
    }
  }
  if (!handshake || !payload) throw new LinkError('handshake_failed', 'handshake message 1 could not be opened with any identity key of this appliance');
  let claim: DialerClaim;
  try {
    claim = cbor.decode(payload) as DialerClaim;
  } catch {
    throw new LinkError('handshake_failed', 'handshake payload is not CBOR');
  }
  const remoteStatic = handshake.getRemoteStaticPublicKey() as Uint8Array;
  const reply = (verdict: ResponderVerdict) => send(handshake.writeMessage(cbor.encode(verdict)));
  let refusal: { code: LinkErrorCode; message: string } | undefined;
  if (typeof claim !== 'object' || claim === null || typeof claim.from !== 'string' || typeof claim.to !== 'string' || typeof claim.ts !== 'number') {
    refusal = { code: 'handshake_failed', message: 'handshake payload lacks from, to or ts' };
  } else if (claim.v !== linkVersion) {
    refusal = { code: 'protocol_version', message: `link version ${String(claim.v)} is not supported (this side speaks ${linkVersion})` };
  } else {
    refusal = await options.policy({ claim, remoteStatic, messageDigest: createHash('sha256').update(firstMessage).digest('hex') });
  }
  if (refusal) {
    reply({ v: linkVersion, ok: false, code: refusal.code, message: refusal.message });
    throw new LinkError(refusal.code, refusal.message);
  }
  reply({ v: linkVersion, ok: true, ts: (options.now ?? Date.now)() });
  const { send: sendCipher, receive: receiveCipher } = handshake.split();
  return { ciphers: { send: sendCipher, receive: receiveCipher }, claim };
}

/** True when the X25519 static the dialer used is the conversion of one of the pinned Ed25519 keys. */
export function staticMatchesPins(remoteStatic: Uint8Array, pinnedKeys: string[]): boolean {
  return pinnedKeys.some((key) => {
    try {
      return Buffer.from(pinToX25519(key)).equals(Buffer.from(remoteStatic));
    } catch {
      return false;
    }
  });
}
