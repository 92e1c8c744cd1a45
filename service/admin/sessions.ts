import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  id: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  /** How the session was opened: the one-time token proves access to this machine's service log. */
  via?: 'token' | 'password';
}

/** A refusal the admin listener turns into an HTTP error with a stable code. */
export interface PolicyRefusal {
  code: string;
  message: string;
  status: number;
}

/**
 * What the admin listener asks beyond "is there a session": installed by the GUI routes,
 * which own the password and first-run state, so the listener stays free of store access.
 */
export interface LoginPolicy {
  /** True or false when a password is set; undefined when none is. */
  checkPassword(candidate: string): Promise<boolean | undefined>;
  /** Why a logged-in request may not proceed yet (password or first-run setup missing). */
  refusal(request: { method: string; path: string }): Promise<PolicyRefusal | undefined>;
  /** Called after a successful login, for the audit trail. */
  loggedIn?(method: 'token' | 'password', address: string): Promise<void>;
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
  #policy: LoginPolicy | undefined;

  constructor(options: SessionStoreOptions = {}) {
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 12 * 3600_000;
    this.#loginTokenTtlMs = options.loginTokenTtlMs ?? 24 * 3600_000;
    this.#now = options.now ?? Date.now;
  }

  get policy(): LoginPolicy | undefined {
    return this.#policy;
  }

  setPolicy(policy: LoginPolicy): void {
    this.#policy = policy;
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
    const session = this.create();
    session.via = 'token';
    return session;
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

  /** Whether a session still exists, without counting as activity (long-lived event streams ask this). */
  isLive(id: string): boolean {
    const session = this.#sessions.get(id);
    return session !== undefined && this.#now() - session.lastSeenAt <= this.#idleTimeoutMs;
  }

  destroy(id: string): void {
    this.#sessions.delete(id);
  }

  static csrfMatches(session: Session, header: string | undefined): boolean {
    return header !== undefined && equal(session.csrf, header);
  }
}
