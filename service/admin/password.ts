import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { scrypt } from '../crypto/scrypt.js';
import type { Database } from '../store/schema.js';

/** Key of the admin password hash in the store's `meta` table. */
export const passwordMetaKey = 'admin_password';

/**
 * scrypt cost: N=2^15, r=8 needs 32 MiB and about 50–100 ms per check on a small box,
 * memory-hard enough that the login rate limit, not the hash, is what an attacker meets.
 */
const defaults = { N: 1 << 15, r: 8, p: 1, keyLength: 32 };

/** `scrypt$N$r$p$salt$hash`, base64url: the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyLength } = defaults;
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, keyLength, { N, r, p });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  if (![N, R, P].every((v) => Number.isInteger(v) && v > 0)) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: R, p: P });
  return timingSafeEqual(key, expected);
}

export async function readPasswordHash(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', passwordMetaKey).executeTakeFirst();
  return row?.value || undefined;
}
