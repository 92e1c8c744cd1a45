import type BetterSqlite3 from 'better-sqlite3';
import { ConsulateError } from '../errors.js';

export interface DirectoryEntry {
  /** Local part plus this appliance's domain: alice@a.example. */
  user: string;
  displayName: string;
  keyBundle: Uint8Array;
  updatedAt: number;
}

const localPart = /^[a-z0-9._+-]{1,64}$/;

/**
 * The local users peers may look up. Read on every envelope, so it is held in memory
 * and written through to SQLite.
 */
export class Directory {
  readonly #db: BetterSqlite3.Database;
  readonly #domain: string;
  #entries = new Map<string, DirectoryEntry>();

  constructor(db: BetterSqlite3.Database, domain: string) {
    this.#db = db;
    this.#domain = domain;
    this.reload();
  }

  reload(): void {
    const rows = this.#db.prepare('select user, displayName, keyBundle, updatedAt from directory').all() as Array<{
      user: string;
      displayName: string;
      keyBundle: Buffer;
      updatedAt: number;
    }>;
    this.#entries = new Map(
      rows.map((r) => [
        `${r.user}@${this.#domain}`,
        { user: `${r.user}@${this.#domain}`, displayName: r.displayName, keyBundle: r.keyBundle, updatedAt: r.updatedAt },
      ]),
    );
  }

  /** The local part of an address of this domain, or a clear error. */
  localPart(address: string): string {
    const at = address.lastIndexOf('@');
    const local = at < 0 ? address : address.slice(0, at);
    const domain = at < 0 ? this.#domain : address.slice(at + 1).toLowerCase();
    if (domain !== this.#domain) throw new ConsulateError('not_local', `${address} is not a user of ${this.#domain}`);
    if (!localPart.test(local)) throw new ConsulateError('bad_request', `"${local}" is not a valid user name (a-z, 0-9, . _ + -; at most 64)`);
    return local;
  }

  has(address: string): boolean {
    return this.#entries.has(address.toLowerCase());
  }

  get(address: string): DirectoryEntry | undefined {
    return this.#entries.get(address.toLowerCase());
  }

  /** In code-point order, the same on every host: `localeCompare` followed the host's locale (on a Danish one "aaron" came after "zed"). */
  list(): DirectoryEntry[] {
    return [...this.#entries.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  }

  put(address: string, displayName: string, keyBundle: Uint8Array, now = Date.now()): DirectoryEntry {
    const local = this.localPart(address);
    this.#db
      .prepare(
        'insert into directory (user, displayName, keyBundle, updatedAt) values (?, ?, ?, ?) on conflict (user) do update set displayName = excluded.displayName, keyBundle = excluded.keyBundle, updatedAt = excluded.updatedAt',
      )
      .run(local, displayName, keyBundle, now);
    const entry = { user: `${local}@${this.#domain}`, displayName, keyBundle, updatedAt: now };
    this.#entries.set(entry.user, entry);
    return entry;
  }

  delete(address: string): boolean {
    const local = this.localPart(address);
    const removed = this.#db.prepare('delete from directory where user = ?').run(local).changes > 0;
    this.#entries.delete(`${local}@${this.#domain}`);
    return removed;
  }
}
