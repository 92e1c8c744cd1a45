import { CipherState } from './noise-cipher-state.js';
import { cipherKeyLength, concatBytes, hkdf, wipe, type NoiseHash } from './noise-crypto.js';

const emptyBytes = new Uint8Array(0);

// Spec §5.2: with a 64-byte hash, HKDF outputs used as cipher keys are cut to 32 bytes.
function cipherKey(bytes: Uint8Array): Uint8Array {
  return bytes.length === cipherKeyLength ? bytes : bytes.slice(0, cipherKeyLength);
}

/** SymmetricState (Noise spec §5.2): chaining key ck, handshake hash h and a CipherState. */
export class SymmetricState {
  readonly hash: NoiseHash;
  readonly cipher = new CipherState();
  #chainingKey: Uint8Array;
  #handshakeHash: Uint8Array;

  /** InitializeSymmetric(protocol_name). */
  constructor(hash: NoiseHash, protocolName: string) {
    this.hash = hash;
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= hash.hashLength) {
      this.#handshakeHash = new Uint8Array(hash.hashLength);
      this.#handshakeHash.set(name);
    } else {
      this.#handshakeHash = hash.digest(name);
    }
    this.#chainingKey = Uint8Array.from(this.#handshakeHash);
  }

  mixKey(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempKey] = hkdf(this.hash, this.#chainingKey, inputKeyMaterial, 2);
    wipe(this.#chainingKey);
    this.#chainingKey = chainingKey;
    this.cipher.initializeKey(cipherKey(tempKey));
    wipe(tempKey);
  }

  mixHash(data: Uint8Array): void {
    this.#handshakeHash = this.hash.digest(concatBytes(this.#handshakeHash, data));
  }

  /** Used by psk tokens (spec §9). */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempHash, tempKey] = hkdf(this.hash, this.#chainingKey, inputKeyMaterial, 3);
    wipe(this.#chainingKey);
    this.#chainingKey = chainingKey;
    this.mixHash(tempHash);
    this.cipher.initializeKey(cipherKey(tempKey));
    wipe(tempKey);
  }

  getHandshakeHash(): Uint8Array {
    return Uint8Array.from(this.#handshakeHash);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.#handshakeHash, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.#handshakeHash, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): [initiator→responder, responder→initiator]; wipes the chaining key. */
  split(): [CipherState, CipherState] {
    const [tempKey1, tempKey2] = hkdf(this.hash, this.#chainingKey, emptyBytes, 2);
    const pair: [CipherState, CipherState] = [new CipherState(cipherKey(tempKey1)), new CipherState(cipherKey(tempKey2))];
    wipe(tempKey1);
    wipe(tempKey2);
    wipe(this.#chainingKey);
    this.cipher.destroy();
    return pair;
  }
}
