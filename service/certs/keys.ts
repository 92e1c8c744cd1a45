import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CertError } from './errors.js';
import { encodePem, looksLikePem, parsePem } from './pem.js';
import {
  subtle,
  type CryptoKeyPair,
  type EcdsaParams,
  type EcKeyGenParams,
  type EcKeyImportParams,
  type RsaHashedImportParams,
  type RsaHashedKeyGenParams,
  type X509KeyPair,
  type X509SigningAlgorithm,
} from './x509.js';

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export const keyAlgorithms: readonly KeyAlgorithm[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

/** P-256 is fast, small and accepted by every TLS client and public CA. */
export const defaultKeyAlgorithm: KeyAlgorithm = 'ecdsa-p256';

export interface GeneratedKey {
  algorithm: KeyAlgorithm;
  /** PKCS#8, unencrypted: callers wrap it before it touches the disk. */
  privateKeyPem: string;
  publicKeyPem: string;
}

/** WebCrypto pair plus the parameters that sign with it; what the x509 generators need. */
export interface SigningKey {
  keys: X509KeyPair;
  signingAlgorithm: X509SigningAlgorithm;
  description: string;
}

export interface KeyDescription {
  type: 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'other';
  /** Modulus length for RSA, curve size for EC. */
  bits: number | undefined;
  /** WebCrypto curve name (`P-256`) or the OpenSSL one when WebCrypto has none. */
  curve: string | undefined;
  /** For messages: `ECDSA P-256`, `RSA 2048`. */
  text: string;
}

const curveNames: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  'P-256': { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  'P-384': { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
  'P-521': { name: 'P-521', bits: 521 },
};

export function isKeyAlgorithm(value: string): value is KeyAlgorithm {
  return (keyAlgorithms as readonly string[]).includes(value);
}

export async function generateKeyPair(algorithm: KeyAlgorithm = defaultKeyAlgorithm): Promise<GeneratedKey> {
  if (!isKeyAlgorithm(algorithm)) throw new CertError('key_malformed', `unknown key algorithm "${String(algorithm)}"; use one of ${keyAlgorithms.join(', ')}`);
  const params: EcKeyGenParams | RsaHashedKeyGenParams = algorithm.startsWith('ecdsa')
    ? { name: 'ECDSA', namedCurve: algorithm === 'ecdsa-p384' ? 'P-384' : 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: Number(algorithm.slice(4)), publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const pair = (await subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await subtle.exportKey('pkcs8', pair.privateKey);
  const spki = await subtle.exportKey('spki', pair.publicKey);
  return { algorithm, privateKeyPem: encodePem('PRIVATE KEY', pkcs8), publicKeyPem: encodePem('PUBLIC KEY', spki) };
}

const privateKeyLabels = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

export function isPrivateKeyLabel(label: string): boolean {
  return privateKeyLabels.has(label);
}

/**
 * Reads PKCS#8 (plain or encrypted), PKCS#1 and SEC1 keys in PEM, or PKCS#8 DER. OpenSSL
 * does the decoding, so every legacy format it writes is accepted; failures get one code each.
 */
export function readPrivateKey(input: string | Uint8Array, options: { password?: string | undefined } = {}): KeyObject {
  let key: Parameters<typeof createPrivateKey>[0];
  if (typeof input === 'string') {
    if (!looksLikePem(input)) throw new CertError('key_malformed', 'the private key is not PEM (expected "-----BEGIN PRIVATE KEY-----")');
    const blocks = parsePem(input).filter((block) => isPrivateKeyLabel(block.label));
    if (blocks.length === 0) throw new CertError('key_missing', 'the text contains no private key block');
    if (blocks.length > 1) throw new CertError('key_ambiguous', 'the text contains more than one private key');
    const block = blocks[0] as (typeof blocks)[number];
    const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || block.headers['Proc-Type']?.includes('ENCRYPTED') === true;
    if (encrypted && (options.password === undefined || options.password === '')) {
      throw new CertError('key_encrypted', 'the private key is encrypted; supply its password');
    }
    const pem = Object.keys(block.headers).length > 0 ? input : encodePem(block.label, block.der);
    key = { key: pem, format: 'pem', ...(encrypted ? { passphrase: options.password } : {}) };
  } else {
    key = { key: Buffer.from(input), format: 'der', type: 'pkcs8', ...(options.password ? { passphrase: options.password } : {}) };
  }
  try {
    return createPrivateKey(key);
  } catch (error) {
    const message = (error as Error).message;
    if (/bad decrypt|wrong password|unable to decrypt|interrupted or cancelled/i.test(message)) {
      throw new CertError('key_bad_password', 'the password for the private key is wrong', { cause: error });
    }
    throw new CertError('key_malformed', `the private key cannot be read: ${message}`, { cause: error });
  }
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function describeKey(key: KeyObject): KeyDescription {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss': {
      const bits = details.modulusLength;
      return { type: key.asymmetricKeyType, bits, curve: undefined, text: `RSA ${bits ?? '?'}` };
    }
    case 'ec': {
      const known = curveNames[details.namedCurve ?? ''];
      const curve = known?.name ?? details.namedCurve ?? 'unknown curve';
      return { type: 'ec', bits: known?.bits, curve, text: `ECDSA ${curve}` };
    }
    case 'ed25519':
      return { type: 'ed25519', bits: 256, curve: undefined, text: 'Ed25519' };
    case 'ed448':
      return { type: 'ed448', bits: 456, curve: undefined, text: 'Ed448' };
    case 'dsa':
      return { type: 'dsa', bits: details.modulusLength, curve: undefined, text: `DSA ${details.modulusLength ?? '?'}` };
    default:
      return { type: 'other', bits: undefined, curve: undefined, text: key.asymmetricKeyType ?? 'unknown key type' };
  }
}

/** A WebCrypto key pair for signing certificates and CSRs with an existing PEM key. */
export async function importSigningKey(privateKey: KeyObject): Promise<SigningKey> {
  const description = describeKey(privateKey);
  let algorithm: RsaHashedImportParams | EcKeyImportParams;
  let signingAlgorithm: RsaHashedImportParams | EcdsaParams;
  if (description.type === 'rsa') {
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = algorithm;
  } else if (description.type === 'ec' && (description.curve === 'P-256' || description.curve === 'P-384' || description.curve === 'P-521')) {
    algorithm = { name: 'ECDSA', namedCurve: description.curve };
    signingAlgorithm = { name: 'ECDSA', hash: description.curve === 'P-256' ? 'SHA-256' : description.curve === 'P-384' ? 'SHA-384' : 'SHA-512' };
  } else {
    throw new CertError('weak_key', `a ${description.text} key cannot sign certificates here; use ECDSA P-256/P-384 or RSA`);
  }
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keys: CryptoKeyPair = {
    privateKey: await subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']),
    publicKey: await subtle.importKey('spki', spki, algorithm, true, ['verify']),
  };
  return { keys: keys as unknown as X509KeyPair, signingAlgorithm: signingAlgorithm as X509SigningAlgorithm, description: description.text };
}
