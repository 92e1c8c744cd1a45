export interface LoginRateLimitOptions {
  /** Failed logins allowed per window and remote address (default 5). */
  maxFailures?: number;
  /** Window length in milliseconds (default 60 s). */
  windowMs?: number;
  now?: () => number;
}

/**
 * Counts failed logins per remote address in a sliding window. Only failures count,
 * so an operator who logs in right is never slowed down; a guesser gets 5 tries a minute.
 */
export class LoginRateLimit {
  readonly #failures = new Map<string, number[]>();
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: LoginRateLimitOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 5;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until this address may try again, or 0 when it may try now. */
  retryAfter(address: string): number {
    const recent = this.#recent(address);
    if (recent.length < this.#maxFailures) return 0;
    const oldest = recent[recent.length - this.#maxFailures] as number;
    return Math.max(1, Math.ceil((oldest + this.#windowMs - this.#now()) / 1000));
  }

  fail(address: string): void {
    const recent = this.#recent(address);
    recent.push(this.#now());
    this.#failures.set(address, recent);
    // Bounded memory under a spray of addresses: drop the stalest entries.
    if (this.#failures.size > 10_000) {
      const first = this.#failures.keys().next().value;
      if (first !== undefined) this.#failures.delete(first);
    }
  }

  succeed(address: string): void {
    this.#failures.delete(address);
  }

  #recent(address: string): number[] {
    const since = this.#now() - this.#windowMs;
    return (this.#failures.get(address) ?? []).filter((t) => t > since);
  }
}
