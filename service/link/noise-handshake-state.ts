import { maxMessageLength, type CipherState } from './noise-cipher-state.js';
import { concatBytes, dh, dhLength, generateKeyPair, keyPairFromSecretKey, tagLength, wipe, type KeyPair } from './noise-crypto.js';
import { NoiseError } from './noise-errors.js';
import { parseProtocolName, type MessageToken, type NoiseProtocol, type PreMessageToken } from './noise-protocol.js';
import { SymmetricState } from './noise-symmetric-state.js';

/** Noise spec §9: every psk is exactly 32 bytes. */
export const pskLength = 32;

export interface HandshakeOptions {
  /** Full protocol name, e.g. `Noise_IK_25519_ChaChaPoly_BLAKE2b`. */
  readonly protocolName: string;
  readonly initiator: boolean;
  /** Bound into the handshake hash; both sides must agree. Default: empty. */
  readonly prologue?: Uint8Array;
  /** Local static key pair (for the product: the X25519 form of the Ed25519 identity). */
  readonly staticKeyPair?: KeyPair;
  /** The peer's static public key when the pattern sends it in advance (IK initiator: the pin). */
  readonly remoteStaticPublicKey?: Uint8Array;
  /** Only for pre-message `e` patterns. */
  readonly remoteEphemeralPublicKey?: Uint8Array;
  /**
   * Fixed ephemeral key pair, for test vectors only. Default: a fresh key pair from libsodium
   * when the `e` token is written. Reusing an ephemeral across handshakes breaks every guarantee.
   */
  readonly ephemeralKeyPair?: KeyPair;
  /** One 32-byte key per psk token, in the order the tokens appear. Default: none. */
  readonly psks?: readonly Uint8Array[];
}

/**
 * Split() result: the spec's tuple order [initiator→responder, responder→initiator], plus the
 * same two states named from this side's point of view so callers cannot cross them over.
 */
export type SplitCipherStates = readonly [initiatorToResponder: CipherState, responderToInitiator: CipherState] & {
  readonly send: CipherState;
  readonly receive: CipherState;
};

type Status = 'handshake' | 'complete' | 'split' | 'failed';

function copyKey(bytes: Uint8Array, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== dhLength) {
    throw new NoiseError('invalid_key', `${what} must be ${dhLength} bytes`);
  }
  return Uint8Array.from(bytes);
}

function copyKeyPair(pair: KeyPair, what: string): KeyPair {
  const derived = keyPairFromSecretKey(copyKey(pair.secretKey, `${what} secret key`));
  const publicKey = copyKey(pair.publicKey, `${what} public key`);
  if (!derived.publicKey.every((byte, i) => byte === publicKey[i])) {
    throw new NoiseError('invalid_key', `${what} public key does not belong to its secret key`);
  }
  return derived;
}

/**
 * HandshakeState (Noise spec §5.3) with a generic token engine.
 *
 * IK warning (spec §7.7): the initiator's first payload is encrypted only to the responder's
 * static key. It can be replayed, and a thief of the responder's static key could forge it
 * (key-compromise impersonation). The responder may use that payload and the initiator's
 * static key only to look up the pin for the claimed domain before answering; it must not act
 * on the payload otherwise. The initiator counts as authenticated only once the responder has
 * decrypted the initiator's first transport message, which is bound to both ephemerals.
 */
export class HandshakeState {
  readonly protocol: NoiseProtocol;
  readonly initiator: boolean;
  readonly #symmetric: SymmetricState;
  readonly #psks: Uint8Array[];
  #staticKeyPair: KeyPair | null;
  #ephemeralKeyPair: KeyPair | null;
  #remoteStatic: Uint8Array | null;
  #remoteEphemeral: Uint8Array | null;
  #messageIndex = 0;
  #pskIndex = 0;
  #status: Status = 'handshake';

  constructor(options: HandshakeOptions) {
    this.protocol = parseProtocolName(options.protocolName);
    this.initiator = options.initiator;
    this.#staticKeyPair = options.staticKeyPair ? copyKeyPair(options.staticKeyPair, 'static key pair') : null;
    this.#ephemeralKeyPair = options.ephemeralKeyPair ? copyKeyPair(options.ephemeralKeyPair, 'ephemeral key pair') : null;
    this.#remoteStatic = options.remoteStaticPublicKey ? copyKey(options.remoteStaticPublicKey, 'remote static public key') : null;
    this.#remoteEphemeral = options.remoteEphemeralPublicKey ? copyKey(options.remoteEphemeralPublicKey, 'remote ephemeral public key') : null;
    this.#psks = (options.psks ?? []).map((psk) => {
      if (!(psk instanceof Uint8Array) || psk.length !== pskLength) throw new NoiseError('invalid_key', `a psk must be ${pskLength} bytes`);
      return Uint8Array.from(psk);
    });
    this.#checkKeys();

    this.#symmetric = new SymmetricState(this.protocol.hash, this.protocol.name);
    this.#symmetric.mixHash(options.prologue ?? new Uint8Array(0));
    this.#mixPreMessage(this.protocol.pattern.initiatorPreMessage, this.initiator);
    this.#mixPreMessage(this.protocol.pattern.responderPreMessage, !this.initiator);
  }

  /** True when the next handshake message is ours to write. */
  isMyTurn(): boolean {
    return this.#status === 'handshake' && this.#messageIndex % 2 === (this.initiator ? 0 : 1);
  }

  /** True once every handshake message has been written or read. */
  isComplete(): boolean {
    return this.#status === 'complete' || this.#status === 'split';
  }

  /** h; after the handshake it is a unique channel binding for the session (spec §11.2). */
  getHandshakeHash(): Uint8Array {
    return this.#symmetric.getHandshakeHash();
  }

  /** The peer's static public key once known: from the options or from its `s` token. */
  getRemoteStaticPublicKey(): Uint8Array | null {
    return this.#remoteStatic ? Uint8Array.from(this.#remoteStatic) : null;
  }

  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    const tokens = this.#nextTokens(true);
    const length = this.#messageLength(tokens, payload.length);
    if (length > maxMessageLength) {
      throw new NoiseError('message_too_large', `handshake message would be ${length} bytes; the Noise limit is ${maxMessageLength}`);
    }
    return this.#failClosed(() => {
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        if (token === 'e') {
          // An injected ephemeral (test vectors) is used once; otherwise GENERATE_KEYPAIR().
          this.#ephemeralKeyPair ??= generateKeyPair();
          const publicKey = this.#ephemeralKeyPair.publicKey;
          parts.push(Uint8Array.from(publicKey));
          this.#mixEphemeral(publicKey);
        } else if (token === 's') {
          parts.push(this.#symmetric.encryptAndHash(this.#local('s').publicKey));
        } else {
          this.#mixToken(token);
        }
      }
      parts.push(this.#symmetric.encryptAndHash(payload));
      this.#advance();
      return concatBytes(...parts);
    });
  }

  /**
   * Returns the payload. For IK's first message see the class comment: the payload is not
   * yet proof of who sent it.
   */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.#nextTokens(false);
    if (message.length > maxMessageLength) {
      throw new NoiseError('message_too_large', `handshake message is ${message.length} bytes; the Noise limit is ${maxMessageLength}`);
    }
    return this.#failClosed(() => {
      let offset = 0;
      const take = (length: number): Uint8Array => {
        if (offset + length > message.length) {
          throw new NoiseError('malformed_message', `handshake message is ${message.length} bytes, too short for its tokens`);
        }
        const bytes = message.slice(offset, offset + length);
        offset += length;
        return bytes;
      };
      for (const token of tokens) {
        if (token === 'e') {
          if (this.#remoteEphemeral) throw new NoiseError('bad_state', 'remote ephemeral key already set');
          this.#remoteEphemeral = take(dhLength);
          this.#mixEphemeral(this.#remoteEphemeral);
        } else if (token === 's') {
          if (this.#remoteStatic) throw new NoiseError('bad_state', 'remote static key already set');
          const sealed = take(dhLength + (this.#symmetric.cipher.hasKey() ? tagLength : 0));
          this.#remoteStatic = this.#symmetric.decryptAndHash(sealed);
        } else {
          this.#mixToken(token);
        }
      }
      const payload = this.#symmetric.decryptAndHash(message.slice(offset));
      this.#advance();
      return payload;
    });
  }

  /** Split() (spec §5.2); allowed once, after the last handshake message. */
  split(): SplitCipherStates {
    if (this.#status !== 'complete') {
      throw new NoiseError('bad_state', this.#status === 'split' ? 'split() was already called' : 'handshake is not complete');
    }
    this.#status = 'split';
    const [initiatorToResponder, responderToInitiator] = this.#symmetric.split();
    wipe(this.#ephemeralKeyPair?.secretKey);
    wipe(this.#staticKeyPair?.secretKey);
    for (const psk of this.#psks) wipe(psk);
    const send = this.initiator ? initiatorToResponder : responderToInitiator;
    const receive = this.initiator ? responderToInitiator : initiatorToResponder;
    return Object.assign([initiatorToResponder, responderToInitiator] as const, { send, receive });
  }

  #nextTokens(writing: boolean): readonly MessageToken[] {
    if (this.#status !== 'handshake') {
      throw new NoiseError('bad_state', this.#status === 'failed' ? 'handshake already failed' : 'handshake is already complete');
    }
    if (this.isMyTurn() !== writing) {
      throw new NoiseError('bad_state', writing ? 'not our turn to write a handshake message' : 'expected to write, not read, the next handshake message');
    }
    const tokens = this.protocol.pattern.messages[this.#messageIndex];
    if (!tokens) throw new NoiseError('bad_state', 'no handshake message left');
    return tokens;
  }

  // Predicts the exact output length so an oversize payload is refused before any state changes.
  #messageLength(tokens: readonly MessageToken[], payloadLength: number): number {
    let hasKey = this.#symmetric.cipher.hasKey();
    let length = 0;
    for (const token of tokens) {
      if (token === 'e') {
        length += dhLength;
        if (this.protocol.psk) hasKey = true;
      } else if (token === 's') {
        length += dhLength + (hasKey ? tagLength : 0);
      } else {
        hasKey = true;
      }
    }
    return length + payloadLength + (hasKey ? tagLength : 0);
  }

  // A half-processed message leaves h and ck unusable, so any error ends the handshake.
  #failClosed<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.#status = 'failed';
      throw error;
    }
  }

  #advance(): void {
    this.#messageIndex += 1;
    if (this.#messageIndex === this.protocol.pattern.messages.length) this.#status = 'complete';
  }

  #mixEphemeral(publicKey: Uint8Array): void {
    this.#symmetric.mixHash(publicKey);
    if (this.protocol.psk) this.#symmetric.mixKey(publicKey);
  }

  #mixToken(token: Exclude<MessageToken, 'e' | 's'>): void {
    const symmetric = this.#symmetric;
    switch (token) {
      case 'ee':
        symmetric.mixKey(dh(this.#local('e').secretKey, this.#remote('e')));
        break;
      case 'es':
        symmetric.mixKey(this.initiator ? dh(this.#local('e').secretKey, this.#remote('s')) : dh(this.#local('s').secretKey, this.#remote('e')));
        break;
      case 'se':
        symmetric.mixKey(this.initiator ? dh(this.#local('s').secretKey, this.#remote('e')) : dh(this.#local('e').secretKey, this.#remote('s')));
        break;
      case 'ss':
        symmetric.mixKey(dh(this.#local('s').secretKey, this.#remote('s')));
        break;
      case 'psk': {
        const psk = this.#psks[this.#pskIndex];
        if (!psk) throw new NoiseError('missing_key', 'the pattern needs another psk');
        this.#pskIndex += 1;
        symmetric.mixKeyAndHash(psk);
        break;
      }
    }
  }

  #local(which: PreMessageToken): KeyPair {
    const pair = which === 's' ? this.#staticKeyPair : this.#ephemeralKeyPair;
    if (!pair) throw new NoiseError('missing_key', `local ${which === 's' ? 'static' : 'ephemeral'} key is not set`);
    return pair;
  }

  #remote(which: PreMessageToken): Uint8Array {
    const key = which === 's' ? this.#remoteStatic : this.#remoteEphemeral;
    if (!key) throw new NoiseError('missing_key', `remote ${which === 's' ? 'static' : 'ephemeral'} key is not known`);
    return key;
  }

  #mixPreMessage(tokens: readonly PreMessageToken[], local: boolean): void {
    for (const token of tokens) {
      const publicKey = local ? this.#local(token).publicKey : this.#remote(token);
      if (token === 'e') this.#mixEphemeral(publicKey);
      else this.#symmetric.mixHash(publicKey);
    }
  }

  // Refuse at construction, not halfway through the handshake, when a needed key is missing.
  #checkKeys(): void {
    const { pattern } = this.protocol;
    const ownPreMessage = this.initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    const peerPreMessage = this.initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage;
    const ownDhToken = this.initiator ? 'se' : 'es';
    let needsStatic = ownPreMessage.includes('s');
    let pskCount = 0;
    pattern.messages.forEach((tokens, index) => {
      const ours = index % 2 === (this.initiator ? 0 : 1);
      for (const token of tokens) {
        if ((ours && token === 's') || token === 'ss' || token === ownDhToken) needsStatic = true;
        if (token === 'psk') pskCount += 1;
      }
    });
    if (needsStatic && !this.#staticKeyPair) throw new NoiseError('missing_key', `${pattern.name} needs a local static key pair`);
    if (ownPreMessage.includes('e') && !this.#ephemeralKeyPair) {
      throw new NoiseError('missing_key', `${pattern.name} needs a pre-shared local ephemeral key pair`);
    }
    if (peerPreMessage.includes('s') && !this.#remoteStatic) {
      throw new NoiseError('missing_key', `${pattern.name} needs the remote static public key in advance`);
    }
    if (peerPreMessage.includes('e') && !this.#remoteEphemeral) {
      throw new NoiseError('missing_key', `${pattern.name} needs the remote ephemeral public key in advance`);
    }
    if (this.#psks.length !== pskCount) {
      throw new NoiseError('missing_key', `${pattern.name} needs ${pskCount} psk(s), got ${this.#psks.length}`);
    }
  }
}
