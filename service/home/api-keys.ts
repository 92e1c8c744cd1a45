import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { ConsulateError } from '../errors.js';

export interface ApiKeyInfo {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
}

const prefix = 'csk_';

function hash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Home API keys: `csk_<id>_<secret>`. Only a SHA-256 of the 256-bit secret is stored
 * (a slow hash adds nothing for a random secret of that size).
 */
export class ApiKeys {
  readonly #cache = new Map<string, { hash: string; revoked: boolean }>();

  constructor(private readonly db: BetterSqlite3.Database) {
    this.reload();
  }

  reload(): void {
    this.#cache.clear();
    for (const row of this.db.prepare('select id, secretHash, revokedAt from api_keys').all() as Array<{
      id: string;
      secretHash: string;
      revokedAt: string | null;
    }>) {
      this.#cache.set(row.id, { hash: row.secretHash, revoked: row.revokedAt !== null });
    }
  }

  create(name: string, now = new Date()): { key: string; info: ApiKeyInfo } {
    if (!name.trim() || name.length > 100) throw new ConsulateError('bad_request', 'an API key needs a name of 1 to 100 characters');
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    this.db
      .prepare('insert into api_keys (id, name, secretHash, createdAt, revokedAt) values (?, ?, ?, ?, null)')
      .run(id, name.trim(), hash(secret), now.toISOString());
    this.#cache.set(id, { hash: hash(secret), revoked: false });
    return { key: `${prefix}${id}_${secret}`, info: { id, name: name.trim(), createdAt: now.toISOString(), revokedAt: null } };
  }

  list(): ApiKeyInfo[] {
    return this.db.prepare('select id, name, createdAt, revokedAt from api_keys order by createdAt').all() as ApiKeyInfo[];
  }

  revoke(id: string, now = new Date()): void {
    const changed = this.db.prepare('update api_keys set revokedAt = ? where id = ? and revokedAt is null').run(now.toISOString(), id).changes;
    if (changed === 0) throw new ConsulateError('not_found', `no active API key ${id}`, { status: 404 });
    const cached = this.#cache.get(id);
    if (cached) cached.revoked = true;
  }

  /** Whether the key with this id exists and is not revoked (for connections opened with it). */
  active(id: string): boolean {
    const entry = this.#cache.get(id);
    return entry !== undefined && !entry.revoked;
  }

  /** The key id if the presented key is valid and not revoked. */
  verify(presented: string | undefined): string | undefined {
    if (!presented?.startsWith(prefix)) return undefined;
    const rest = presented.slice(prefix.length);
    const split = rest.indexOf('_');
    if (split < 0) return undefined;
    const id = rest.slice(0, split);
    const entry = this.#cache.get(id);
    if (!entry || entry.revoked) return undefined;
    const a = Buffer.from(hash(rest.slice(split + 1)), 'hex');
    const b = Buffer.from(entry.hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b) ? id : undefined;
  }
}
