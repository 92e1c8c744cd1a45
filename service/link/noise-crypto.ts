import { createHash, randomFillSync } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { NoiseError } from './noise-errors.js';

/** Noise spec §4.1: DHLEN for Curve25519. */
export const dhLength = 32;
/** ChaChaPoly key length and tag length (Noise spec §4.2). */
export const cipherKeyLength = 32;
export const tagLength = 16;

let sodiumReady = false;

/** Initialises libsodium's WebAssembly. Await once per process before any other Noise call. */
export async function ready(): Promise<void> {
  await sodium.ready;
  sodiumReady = true;
}

// libsodium's functions are undefined until its WebAssembly loads; fail with a named code
// rather than a TypeError deep inside a handshake.
function requireSodium(): typeof sodium {
  if (!sodiumReady) throw new NoiseError('not_ready', 'libsodium is not initialised; await ready() first');
  return sodium;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An X25519 key pair; `secretKey` is the 32-byte scalar. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

function requireLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new NoiseError('invalid_key', `${what} must be ${length} bytes`);
  }
}

/** GENERATE_KEYPAIR() for Curve25519 (Noise spec §4.1). */
export function generateKeyPair(): KeyPair {
  const lib = requireSodium();
  // Node's CSPRNG directly: libsodium-wrappers' randombytes_buf calls back into it a few bytes at a time (about 75 µs for 32 bytes against 2).
  const secretKey = randomFillSync(new Uint8Array(dhLength));
  return { publicKey: lib.crypto_scalarmult_base(secretKey), secretKey };
}

/** Derives the public half so callers (and test vectors) can supply only the scalar. */
export function keyPairFromSecretKey(secretKey: Uint8Array): KeyPair {
  requireLength(secretKey, dhLength, 'X25519 secret key');
  const lib = requireSodium();
  return { publicKey: lib.crypto_scalarmult_base(secretKey), secretKey: Uint8Array.from(secretKey) };
}

/**
 * DH() for Curve25519. libsodium refuses an all-zero shared secret (a low-order peer point);
 * the spec (§12.1) allows either behaviour and refusing is the one that fails closed.
 */
export function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  requireLength(secretKey, dhLength, 'X25519 secret key');
  requireLength(publicKey, dhLength, 'X25519 public key');
  const lib = requireSodium();
  try {
    return lib.crypto_scalarmult(secretKey, publicKey);
  } catch (cause) {
    throw new NoiseError('invalid_key', 'Diffie-Hellman with the peer key gave an all-zero result', { cause });
  }
}

/** The product's Noise static key is the X25519 form of the Ed25519 identity (DESIGN.md, Trust). */
export function ed25519PublicKeyToX25519(publicKey: Uint8Array): Uint8Array {
  requireLength(publicKey, 32, 'Ed25519 public key');
  const lib = requireSodium();
  try {
    return lib.crypto_sign_ed25519_pk_to_curve25519(publicKey);
  } catch (cause) {
    throw new NoiseError('invalid_key', 'Ed25519 public key is not a valid curve point', { cause });
  }
}

/** Takes libsodium's 64-byte Ed25519 secret key (seed followed by public key). */
export function ed25519SecretKeyToX25519(secretKey: Uint8Array): Uint8Array {
  requireLength(secretKey, 64, 'Ed25519 secret key');
  const lib = requireSodium();
  return lib.crypto_sign_ed25519_sk_to_curve25519(secretKey);
}

export function ed25519KeyPairToX25519(identity: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }): KeyPair {
  return { publicKey: ed25519PublicKeyToX25519(identity.publicKey), secretKey: ed25519SecretKeyToX25519(identity.secretKey) };
}

// Noise spec §5.1: 96-bit nonce = 32 zero bits followed by the 64-bit counter, little-endian.
function chachaNonce(nonce: bigint): Uint8Array {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setBigUint64(4, nonce, true);
  return bytes;
}

export function aeadEncrypt(key: Uint8Array, nonce: bigint, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const lib = requireSodium();
  return lib.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, chachaNonce(nonce), key);
}

export function aeadDecrypt(key: Uint8Array, nonce: bigint, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const lib = requireSodium();
  if (ciphertext.length < tagLength) throw new NoiseError('decrypt_failed', 'ciphertext is shorter than the authentication tag');
  try {
    return lib.crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, chachaNonce(nonce), key);
  } catch (cause) {
    throw new NoiseError('decrypt_failed', 'ciphertext failed authentication', { cause });
  }
}

export type NoiseHashName = 'BLAKE2b' | 'SHA256' | 'SHA512';

/** HASH() with the lengths HMAC and HKDF need (Noise spec §4.3). */
export interface NoiseHash {
  readonly name: NoiseHashName;
  readonly hashLength: number;
  readonly blockLength: number;
  digest(data: Uint8Array): Uint8Array;
}

function nodeHash(algorithm: 'sha256' | 'sha512', data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(data).digest());
}

// The standard libsodium build has no SHA-256, so the SHA-2 family comes from node:crypto.
const hashes: Readonly<Record<NoiseHashName, NoiseHash>> = {
  BLAKE2b: { name: 'BLAKE2b', hashLength: 64, blockLength: 128, digest: (data) => requireSodium().crypto_generichash(64, data, null) },
  SHA256: { name: 'SHA256', hashLength: 32, blockLength: 64, digest: (data) => nodeHash('sha256', data) },
  SHA512: { name: 'SHA512', hashLength: 64, blockLength: 128, digest: (data) => nodeHash('sha512', data) },
};

export function noiseHash(name: string): NoiseHash | undefined {
  return Object.prototype.hasOwnProperty.call(hashes, name) ? hashes[name as NoiseHashName] : undefined;
}

/** HMAC per RFC 2104 over HASH(), as the spec requires even for BLAKE2b (no keyed mode). */
export function hmac(hash: NoiseHash, key: Uint8Array, data: Uint8Array): Uint8Array {
  const block = new Uint8Array(hash.blockLength);
  block.set(key.length > hash.blockLength ? hash.digest(key) : key);
  const inner = new Uint8Array(hash.blockLength);
  const outer = new Uint8Array(hash.blockLength);
  for (let i = 0; i < hash.blockLength; i++) {
    const byte = block[i] ?? 0;
    inner[i] = byte ^ 0x36;
    outer[i] = byte ^ 0x5c;
  }
  return hash.digest(concatBytes(outer, hash.digest(concatBytes(inner, data))));
}

/** HKDF(chaining_key, input_key_material, num_outputs) from Noise spec §4.3. */
export function hkdf(hash: NoiseHash, chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, outputs: 2): [Uint8Array, Uint8Array];
export function hkdf(hash: NoiseHash, chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, outputs: 3): [Uint8Array, Uint8Array, Uint8Array];
export function hkdf(hash: NoiseHash, chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const tempKey = hmac(hash, chainingKey, inputKeyMaterial);
  const output1 = hmac(hash, tempKey, Uint8Array.of(0x01));
  const output2 = hmac(hash, tempKey, concatBytes(output1, Uint8Array.of(0x02)));
  if (outputs === 2) return [output1, output2];
  const output3 = hmac(hash, tempKey, concatBytes(output2, Uint8Array.of(0x03)));
  return [output1, output2, output3];
}

/** Overwrites secrets we own; best effort, since JS may have copied them already. */
export function wipe(bytes: Uint8Array | null | undefined): void {
  if (bytes && sodiumReady) sodium.memzero(bytes);
}
