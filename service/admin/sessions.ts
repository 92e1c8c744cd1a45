import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  id: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionStoreOptions {
  /** Idle sessions end after this many milliseconds (default 12 h). */
  idleTimeoutMs?: number;
  /** The one-time login token is valid this long after start (default 24 h). */
  loginTokenTtlMs?: number;
  now?: () => number;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

function equal(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Admin sessions live in memory: a restart logs everyone out, which is what an
 * operator expects of an appliance, and no session secret ever touches the disk.
 */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #idleTimeoutMs: number;
  readonly #loginTokenTtlMs: number;
  readonly #now: () => number;
  #loginToken: { value: string; expiresAt: number } | undefined;

  constructor(options: SessionStoreOptions = {}) {
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 12 * 3600_000;
    this.#loginTokenTtlMs = options.loginTokenTtlMs ?? 24 * 3600_000;
    this.#now = options.now ?? Date.now;
  }

  /** A fresh one-time login token; any earlier unused one stops working. */
  issueLoginToken(): string {
    const value = token();
    this.#loginToken = { value, expiresAt: this.#now() + this.#loginTokenTtlMs };
    return value;
  }

  /** Exchanges the one-time token for a session; the token cannot be used again. */
  redeemLoginToken(candidate: string): Session | undefined {
    const current = this.#loginToken;
    if (!current || current.expiresAt < this.#now() || !equal(current.value, candidate)) return undefined;
    this.#loginToken = undefined;
    return this.create();
  }

  create(): Session {
    const now = this.#now();
    const session: Session = { id: token(), csrf: token(), createdAt: now, lastSeenAt: now };
    this.#sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = this.#now();
    if (now - session.lastSeenAt > this.#idleTimeoutMs) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = now;
    return session;
  }

  destroy(id: string): void {
    this.#sessions.delete(id);
  }

  static csrfMatches(session: Session, header: string | undefined): boolean {
    return header !== undefined && equal(session.csrf, header);
  }
}
