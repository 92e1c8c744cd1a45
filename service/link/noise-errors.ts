import { ConsulateError } from '../errors.js';

/**
 * Stable codes for everything the Noise layer refuses. The link layer maps them onto its own
 * frame errors; keep the wording operator-readable because they end up in the log.
 */
export const noiseErrorCodes = {
  not_ready: 'libsodium is not initialised yet; await ready() once before using Noise.',
  unsupported_protocol: 'The Noise protocol name names a pattern, modifier or primitive that is not implemented.',
  missing_key: 'A key or pre-shared key that the handshake pattern needs was not supplied.',
  invalid_key: 'A key has the wrong length, is not a valid curve point, or produced an all-zero Diffie-Hellman result.',
  bad_state: 'The call does not fit the handshake state (wrong turn, handshake finished or failed, split twice).',
  message_too_large: 'A Noise message would exceed 65535 bytes.',
  malformed_message: 'A Noise message is too short for the tokens the pattern expects.',
  decrypt_failed: 'A ciphertext failed authentication (tampered, truncated, wrong key or out of order).',
  nonce_exhausted: 'The cipher nonce reached 2^64-1; the session must be rekeyed by a new handshake.',
} as const;

export type NoiseErrorCode = keyof typeof noiseErrorCodes;

/** A Noise failure with a stable code; never carries key material in its message or details. */
export class NoiseError extends ConsulateError {
  // `declare` keeps the parent's assignment: a class field here would reset it to undefined.
  declare readonly code: NoiseErrorCode;

  constructor(code: NoiseErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, { status: 400, ...options });
    this.name = 'NoiseError';
  }
}

export function isNoiseError(error: unknown): error is NoiseError {
  return error instanceof NoiseError;
}
