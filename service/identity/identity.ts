import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ConsulateError } from '../errors.js';
import { fromBase64Url, loadSodium, toBase64Url, type Sodium } from '../crypto/sodium.js';
import type { Database } from '../store/schema.js';
import type { Kek } from './kek.js';

export interface IdentityKey {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** base64url of the public key: how keys are written in cards, pins and frames. */
  id: string;
  fingerprint: string;
  createdAt: string;
}

const base32Alphabet = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A fingerprint short enough to read over a phone: SHA-256 of the public key, the first
 * 120 bits in base32, as six groups of four. Shown identically in CLI, GUI and cards.
 */
export function fingerprint(publicKey: Uint8Array): string {
  const digest = createHash('sha256').update(publicKey).digest();
  let bits = '';
  for (const byte of digest.subarray(0, 15)) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < 120; i += 5) out += base32Alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return (out.match(/.{4}/g) as string[]).join('-');
}

export function fingerprintOf(keyId: string): string {
  return fingerprint(fromBase64Url(keyId));
}

const sealContext = 'consulate identity v1';

function seal(sodium: Sodium, kek: Kek, publicKey: Uint8Array, secretKey: Uint8Array): string {
  const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  // The public key is bound as associated data, so a sealed secret cannot be swapped between rows.
  const ad = Buffer.concat([Buffer.from(sealContext), publicKey]);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(secretKey, ad, null, nonce, kek.key);
  return `v1.${toBase64Url(nonce)}.${toBase64Url(sealed)}`;
}

function unseal(sodium: Sodium, kek: Kek, publicKey: Uint8Array, sealedText: string): Uint8Array {
  const [version, nonce, sealed] = sealedText.split('.');
  if (version !== 'v1' || !nonce || !sealed) throw new ConsulateError('identity_corrupt', 'the sealed identity key has an unknown format');
  const ad = Buffer.concat([Buffer.from(sealContext), publicKey]);
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, fromBase64Url(sealed), ad, fromBase64Url(nonce), kek.key);
  } catch {
    throw new ConsulateError(
      'kek_wrong',
      `the identity key cannot be unsealed with the key from ${kek.source}; was it sealed with another key file, passphrase or keychain?`,
    );
  }
}

export class IdentityStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly kek: Kek,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async hasIdentity(): Promise<boolean> {
    return (await this.db.selectFrom('identity_keys').select('publicKey').where('status', '=', 'active').executeTakeFirst()) !== undefined;
  }

  /** Creates the first identity key; refuses if one exists (rotation is a separate, signed act). */
  async create(): Promise<IdentityKey> {
    if (await this.hasIdentity())
      throw new ConsulateError('identity_exists', 'this appliance already has an identity key; use `consulate keys rotate` to replace it');
    return this.#insertNew();
  }

  async #insertNew(): Promise<IdentityKey> {
    const sodium = await loadSodium();
    const pair = sodium.crypto_sign_keypair();
    const createdAt = this.now().toISOString();
    await this.db
      .insertInto('identity_keys')
      .values({
        publicKey: toBase64Url(pair.publicKey),
        sealedSecret: seal(sodium, this.kek, pair.publicKey, pair.privateKey),
        kekSource: this.kek.source,
        status: 'active',
        createdAt,
        retiredAt: null,
      })
      .execute();
    return { publicKey: pair.publicKey, secretKey: pair.privateKey, id: toBase64Url(pair.publicKey), fingerprint: fingerprint(pair.publicKey), createdAt };
  }

  /** The sealed form of a secret key under this store's key-encryption key (restoring a backup re-seals with it). */
  async sealSecret(publicKey: Uint8Array, secretKey: Uint8Array): Promise<{ sealedSecret: string; kekSource: string }> {
    return { sealedSecret: seal(await loadSodium(), this.kek, publicKey, secretKey), kekSource: this.kek.source };
  }

  async active(): Promise<IdentityKey> {
    const row = await this.db.selectFrom('identity_keys').selectAll().where('status', '=', 'active').executeTakeFirst();
    if (!row) throw new ConsulateError('identity_missing', 'this appliance has no identity key yet; run `consulate init`');
    return this.#open(row);
  }

  /** Unseals a key by id, active or retired (the responder still opens handshakes sent to a retired key during its grace). */
  async unseal(id: string): Promise<IdentityKey> {
    const row = await this.db.selectFrom('identity_keys').selectAll().where('publicKey', '=', id).executeTakeFirst();
    if (!row) throw new ConsulateError('identity_missing', `no identity key ${fingerprintOf(id)}`);
    return this.#open(row);
  }

  async #open(row: { publicKey: string; sealedSecret: string; createdAt: string }): Promise<IdentityKey> {
    const publicKey = fromBase64Url(row.publicKey);
    return {
      publicKey,
      secretKey: unseal(await loadSodium(), this.kek, publicKey, row.sealedSecret),
      id: row.publicKey,
      fingerprint: fingerprint(publicKey),
      createdAt: row.createdAt,
    };
  }

  /** Makes a new active key and retires the current one; returns both for the rotation statement. */
  async rotate(): Promise<{ previous: IdentityKey; next: IdentityKey }> {
    const previous = await this.active();
    const next = await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('identity_keys').set({ status: 'retired', retiredAt: this.now().toISOString() }).where('publicKey', '=', previous.id).execute();
      return new IdentityStore(trx, this.kek, this.now).#insertNew();
    });
    return { previous, next };
  }

  async history(): Promise<Array<{ id: string; fingerprint: string; status: string; createdAt: string; retiredAt: string | null }>> {
    const rows = await this.db.selectFrom('identity_keys').select(['publicKey', 'status', 'createdAt', 'retiredAt']).orderBy('createdAt', 'desc').execute();
    return rows.map((r) => ({ id: r.publicKey, fingerprint: fingerprintOf(r.publicKey), status: r.status, createdAt: r.createdAt, retiredAt: r.retiredAt }));
  }
}

/** Detached Ed25519 signature helpers used by cards and rotation statements. */
export async function sign(identity: IdentityKey, message: Uint8Array): Promise<string> {
  const sodium = await loadSodium();
  return toBase64Url(sodium.crypto_sign_detached(message, identity.secretKey));
}

export async function verify(publicKeyId: string, message: Uint8Array, signature: string): Promise<boolean> {
  const sodium = await loadSodium();
  try {
    return sodium.crypto_sign_verify_detached(fromBase64Url(signature), message, fromBase64Url(publicKeyId));
  } catch {
    return false;
  }
}
