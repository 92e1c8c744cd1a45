import { aeadDecrypt, aeadEncrypt, cipherKeyLength, tagLength, wipe } from './noise-crypto.js';
import { NoiseError } from './noise-errors.js';

/** Noise spec §3: every handshake and transport message is at most 65535 bytes. */
export const maxMessageLength = 65535;

// 2^64-1 is reserved (spec §5.1): it is never used for a message, only by REKEY.
const maxNonce = (1n << 64n) - 1n;
const emptyBytes = new Uint8Array(0);

/** CipherState (Noise spec §5.1): a key k, possibly empty, and a 64-bit nonce n. */
export class CipherState {
  #key: Uint8Array | null = null;
  #nonce = 0n;
  #destroyed = false;

  constructor(key: Uint8Array | null = null) {
    this.initializeKey(key);
  }

  /** Sets k (copied) and resets n to zero. */
  initializeKey(key: Uint8Array | null): void {
    this.#requireLive();
    if (key !== null && key.length !== cipherKeyLength) {
      throw new NoiseError('invalid_key', `cipher key must be ${cipherKeyLength} bytes`);
    }
    wipe(this.#key);
    this.#key = key === null ? null : Uint8Array.from(key);
    this.#nonce = 0n;
  }

  hasKey(): boolean {
    return this.#key !== null;
  }

  /** Exposed for out-of-order transports and tests of nonce exhaustion; in-order links never need it. */
  setNonce(nonce: bigint): void {
    if (nonce < 0n || nonce > maxNonce) throw new NoiseError('bad_state', 'nonce must be between 0 and 2^64-1');
    this.#nonce = nonce;
  }

  getNonce(): bigint {
    return this.#nonce;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    this.#requireLive();
    const key = this.#key;
    const outputLength = plaintext.length + (key === null ? 0 : tagLength);
    if (outputLength > maxMessageLength) {
      throw new NoiseError('message_too_large', `ciphertext would be ${outputLength} bytes; the Noise limit is ${maxMessageLength}`);
    }
    if (key === null) return Uint8Array.from(plaintext);
    this.#requireNonce();
    const ciphertext = aeadEncrypt(key, this.#nonce, ad, plaintext);
    this.#nonce += 1n;
    return ciphertext;
  }

  /** On failure the nonce does not advance, so a forged message cannot desynchronise the link. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    this.#requireLive();
    if (ciphertext.length > maxMessageLength) {
      throw new NoiseError('message_too_large', `ciphertext is ${ciphertext.length} bytes; the Noise limit is ${maxMessageLength}`);
    }
    const key = this.#key;
    if (key === null) return Uint8Array.from(ciphertext);
    this.#requireNonce();
    const plaintext = aeadDecrypt(key, this.#nonce, ad, ciphertext);
    this.#nonce += 1n;
    return plaintext;
  }

  /** Transport-phase encryption: associated data is empty (spec §5.2 Split). */
  encrypt(plaintext: Uint8Array): Uint8Array {
    return this.encryptWithAd(emptyBytes, plaintext);
  }

  decrypt(ciphertext: Uint8Array): Uint8Array {
    return this.decryptWithAd(emptyBytes, ciphertext);
  }

  /**
   * REKEY (spec §4.2, §11.3): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes).
   * The nonce is unchanged, so both sides must rekey at the same message position.
   */
  rekey(): void {
    this.#requireLive();
    const key = this.#key;
    if (key === null) throw new NoiseError('bad_state', 'cannot rekey a cipher state without a key');
    const next = aeadEncrypt(key, maxNonce, emptyBytes, new Uint8Array(cipherKeyLength)).slice(0, cipherKeyLength);
    wipe(key);
    this.#key = next;
  }

  /** Wipes the key on teardown; later calls fail instead of passing data through unencrypted. */
  destroy(): void {
    wipe(this.#key);
    this.#key = null;
    this.#destroyed = true;
  }

  #requireLive(): void {
    if (this.#destroyed) throw new NoiseError('bad_state', 'cipher state was destroyed');
  }

  #requireNonce(): void {
    if (this.#nonce >= maxNonce) {
      throw new NoiseError('nonce_exhausted', 'cipher nonce exhausted; start a new handshake');
    }
  }
}
