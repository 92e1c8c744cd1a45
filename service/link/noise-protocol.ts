import { noiseHash, type NoiseHash } from './noise-crypto.js';
import { NoiseError } from './noise-errors.js';

export type PreMessageToken = 'e' | 's';
export type MessageToken = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

/** A handshake pattern (spec §7); messages alternate initiator, responder, initiator, ... */
export interface HandshakePattern {
  readonly name: string;
  readonly initiatorPreMessage: readonly PreMessageToken[];
  readonly responderPreMessage: readonly PreMessageToken[];
  readonly messages: readonly (readonly MessageToken[])[];
}

// Only the patterns the federation link can use; the token engine itself is generic.
const basePatterns: Readonly<Record<string, HandshakePattern>> = {
  IK: {
    name: 'IK',
    initiatorPreMessage: [],
    responderPreMessage: ['s'],
    messages: [
      ['e', 'es', 's', 'ss'],
      ['e', 'ee', 'se'],
    ],
  },
  XX: {
    name: 'XX',
    initiatorPreMessage: [],
    responderPreMessage: [],
    messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']],
  },
};

/** A parsed protocol name such as `Noise_IK_25519_ChaChaPoly_BLAKE2b`. */
export interface NoiseProtocol {
  readonly name: string;
  /** The base pattern with any psk modifiers already applied to its messages. */
  readonly pattern: HandshakePattern;
  /** True when a psk modifier is present; `e` tokens then also call MixKey (spec §9.2). */
  readonly psk: boolean;
  readonly dh: '25519';
  readonly cipher: 'ChaChaPoly';
  readonly hash: NoiseHash;
}

function unsupported(name: string, why: string): NoiseError {
  return new NoiseError('unsupported_protocol', `unsupported Noise protocol ${JSON.stringify(name)}: ${why}`);
}

// Spec §9.1: psk0 goes at the start of the first message, pskN at the end of message N.
function applyPskModifiers(name: string, base: HandshakePattern, modifiers: readonly string[]): HandshakePattern {
  const messages = base.messages.map((tokens) => [...tokens]);
  const seen = new Set<number>();
  for (const modifier of modifiers) {
    const match = /^psk(\d+)$/.exec(modifier);
    if (!match) throw unsupported(name, `modifier ${JSON.stringify(modifier)}`);
    const position = Number(match[1]);
    if (seen.has(position) || position > messages.length) throw unsupported(name, `modifier ${modifier}`);
    seen.add(position);
    if (position === 0) messages[0]?.unshift('psk');
    else messages[position - 1]?.push('psk');
  }
  return { ...base, name: `${base.name}${modifiers.join('+')}`, messages };
}

export function parseProtocolName(name: string): NoiseProtocol {
  const parts = name.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise') throw unsupported(name, 'expected Noise_PATTERN_DH_CIPHER_HASH');
  const [, patternPart = '', dhName, cipherName, hashName = ''] = parts;
  const patternMatch = /^([A-Z][A-Z0-9]*)(.*)$/.exec(patternPart);
  const base = patternMatch ? basePatterns[patternMatch[1] ?? ''] : undefined;
  if (!patternMatch || !base) throw unsupported(name, `pattern ${JSON.stringify(patternPart)}`);
  const modifierText = patternMatch[2] ?? '';
  const modifiers = modifierText === '' ? [] : modifierText.split('+');
  if (dhName !== '25519') throw unsupported(name, `DH function ${JSON.stringify(dhName)}`);
  if (cipherName !== 'ChaChaPoly') throw unsupported(name, `cipher ${JSON.stringify(cipherName)}`);
  const hash = noiseHash(hashName);
  if (!hash) throw unsupported(name, `hash ${JSON.stringify(hashName)}`);
  return {
    name,
    pattern: applyPskModifiers(name, base, modifiers),
    psk: modifiers.length > 0,
    dh: '25519',
    cipher: 'ChaChaPoly',
    hash,
  };
}
