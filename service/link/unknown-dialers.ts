/**
 * Appliances that dialed us while not on the whitelist: what Syncthing calls a pending
 * device. The domain is only what the dialer claimed (it is refused before anything is
 * authenticated), so the list is a prompt for the administrator, never a way in: adding
 * the peer still takes its signed card and a fingerprint check. In memory, bounded.
 */
export interface UnknownDialer {
  /** The domain the dialer claimed; unverified. */
  domain: string;
  firstSeen: string;
  lastSeen: string;
  attempts: number;
  /** Up to five remote addresses it came from, newest last. */
  addresses: string[];
}

const maxEntries = 50;
const maxAddresses = 5;
const dismissMs = 24 * 3_600_000;

export class UnknownDialers {
  readonly #entries = new Map<string, { domain: string; firstSeen: number; lastSeen: number; attempts: number; addresses: string[] }>();
  readonly #dismissed = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  note(domain: string, address: string): void {
    const now = this.#now();
    const key = domain.toLowerCase();
    const until = this.#dismissed.get(key);
    if (until !== undefined && until > now) return;
    this.#dismissed.delete(key);
    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= maxEntries) {
        // Make room by dropping the one heard from longest ago.
        const stalest = [...this.#entries.values()].reduce((a, b) => (a.lastSeen <= b.lastSeen ? a : b));
        this.#entries.delete(stalest.domain.toLowerCase());
      }
      entry = { domain, firstSeen: now, lastSeen: now, attempts: 0, addresses: [] };
      this.#entries.set(key, entry);
    }
    entry.attempts++;
    entry.lastSeen = now;
    entry.addresses = [...entry.addresses.filter((a) => a !== address), address].slice(-maxAddresses);
  }

  /** Newest first. */
  list(): UnknownDialer[] {
    return [...this.#entries.values()]
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .map((e) => ({
        domain: e.domain,
        firstSeen: new Date(e.firstSeen).toISOString(),
        lastSeen: new Date(e.lastSeen).toISOString(),
        attempts: e.attempts,
        addresses: [...e.addresses],
      }));
  }

  /** Hidden for a day; it comes back if it still dials after that. */
  dismiss(domain: string): boolean {
    const key = domain.toLowerCase();
    this.#dismissed.set(key, this.#now() + dismissMs);
    return this.#entries.delete(key);
  }

  /** The domain was whitelisted (or is again): no longer unknown. */
  forget(domain: string): void {
    this.#entries.delete(domain.toLowerCase());
  }
}
