import { ConsulateError } from '../errors.js';

/**
 * Stable codes a link can fail or refuse with; they travel in `error` and `goaway`
 * frames and show as a peer's last error. The full list is in docs/protocol.md.
 */
export const linkErrorCodes = [
  'not_whitelisted',
  'peer_suspended',
  'key_mismatch',
  'wrong_target',
  'clock_skew',
  'replay',
  'handshake_failed',
  'frame_malformed',
  'too_large',
  'decrypt_failed',
  'timeout',
  'backpressure',
  'capability_denied',
  'spoofed_sender',
  'rate_limited',
  'out_of_order',
  'unknown_frame',
  'peer_unreachable',
  'tls_failed',
  'protocol_version',
  'shutting_down',
  'internal',
] as const;

export type LinkErrorCode = (typeof linkErrorCodes)[number];

export class LinkError extends ConsulateError {
  constructor(code: LinkErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { status: 502, ...options });
    this.name = 'LinkError';
  }
}

export function isLinkErrorCode(code: string): code is LinkErrorCode {
  return (linkErrorCodes as readonly string[]).includes(code);
}

/** Refusals of envelopes in an `ack` that the sender keeps queued and sends again; every other refusal is final. */
export const retryableRefusals: ReadonlySet<string> = new Set<LinkErrorCode>(['rate_limited', 'backpressure', 'internal', 'timeout', 'out_of_order']);
