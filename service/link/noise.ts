/**
 * Noise Protocol Framework (revision 34) for the federation link: pure, no I/O.
 * Supports 25519 / ChaChaPoly / BLAKE2b, SHA256, SHA512 with the IK and XX patterns and psk
 * modifiers. Call `await ready()` once before anything else.
 */
export { CipherState, maxMessageLength } from './noise-cipher-state.js';
export {
  ed25519KeyPairToX25519,
  ed25519PublicKeyToX25519,
  ed25519SecretKeyToX25519,
  generateKeyPair,
  keyPairFromSecretKey,
  ready,
  type KeyPair,
  type NoiseHash,
  type NoiseHashName,
} from './noise-crypto.js';
export { NoiseError, isNoiseError, noiseErrorCodes, type NoiseErrorCode } from './noise-errors.js';
export { HandshakeState, pskLength, type HandshakeOptions, type SplitCipherStates } from './noise-handshake-state.js';
export { parseProtocolName, type HandshakePattern, type MessageToken, type NoiseProtocol, type PreMessageToken } from './noise-protocol.js';
export { SymmetricState } from './noise-symmetric-state.js';
