import { EventEmitter } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';

export type LinkState = 'down' | 'connecting' | 'up' | 'refused' | 'suspended';

export interface PeerError {
  code: string;
  message: string;
  at: string;
}

export interface PeerStatus {
  domain: string;
  /** Our outbound link (the one we send requests on). */
  outbound: LinkState;
  /** The peer's link to us. */
  inbound: LinkState;
  rttMs: number | null;
  lastHandshake: string | null;
  lastError: PeerError | null;
  bytesIn: number;
  bytesOut: number;
  /** Set when the peer presented a key change that no pinned key signed. */
  keyAlarm: string | null;
}

/**
 * Live per-peer status (memory only: it describes this process's links) and the
 * Prometheus series derived from it. Label values are whitelisted domains only, so a
 * stranger cannot grow the metric set.
 */
export class PeerStatusBoard extends EventEmitter<{ change: [status: PeerStatus] }> {
  readonly #status = new Map<string, PeerStatus>();
  readonly #refusals: Counter<'peer' | 'code'>;
  readonly #closedBytes = new Map<string, { in: number; out: number }>();
  readonly #live = new Map<string, Set<{ counters: { bytesIn: number; bytesOut: number } }>>();

  constructor(registry: Registry) {
    super();
    this.#refusals = new Counter({
      name: 'consulate_link_refusals_total',
      help: 'Link handshakes and frames refused, by peer (or "unknown") and stable error code.',
      labelNames: ['peer', 'code'],
      registers: [registry],
    });
    const statuses = this.#status;
    const totals = (domain: string) => this.#totals(domain);
    const domains = () => new Set([...this.#closedBytes.keys(), ...this.#live.keys()]);
    new Counter({
      name: 'consulate_link_bytes_total',
      help: 'Bytes carried on federation links (both directions of both links), by peer and direction.',
      labelNames: ['peer', 'direction'],
      registers: [registry],
      collect() {
        this.reset();
        for (const domain of domains()) {
          const t = totals(domain);
          this.inc({ peer: domain, direction: 'in' }, t.in);
          this.inc({ peer: domain, direction: 'out' }, t.out);
        }
      },
    });
    new Gauge({
      name: 'consulate_peer_link_up',
      help: '1 when the link in that direction is up.',
      labelNames: ['peer', 'direction'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of statuses.values()) {
          this.set({ peer: s.domain, direction: 'outbound' }, s.outbound === 'up' ? 1 : 0);
          this.set({ peer: s.domain, direction: 'inbound' }, s.inbound === 'up' ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'consulate_peer_rtt_seconds',
      help: 'Last measured round-trip time of the outbound link.',
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of statuses.values()) if (s.rttMs !== null) this.set({ peer: s.domain }, s.rttMs / 1000);
      },
    });
    new Gauge({
      name: 'consulate_peer_key_alarm',
      help: '1 when a peer presented a key change not signed by a pinned key.',
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of statuses.values()) this.set({ peer: s.domain }, s.keyAlarm ? 1 : 0);
      },
    });
  }

  get(domain: string): PeerStatus {
    let status = this.#status.get(domain);
    if (!status) {
      status = { domain, outbound: 'down', inbound: 'down', rttMs: null, lastHandshake: null, lastError: null, bytesIn: 0, bytesOut: 0, keyAlarm: null };
      this.#status.set(domain, status);
    }
    const totals = this.#totals(domain);
    status.bytesIn = totals.in;
    status.bytesOut = totals.out;
    return status;
  }

  all(): PeerStatus[] {
    return [...this.#status.keys()].map((domain) => this.get(domain));
  }

  update(domain: string, patch: Partial<Omit<PeerStatus, 'domain'>>): void {
    const status = Object.assign(this.get(domain), patch);
    this.emit('change', status);
  }

  recordError(domain: string | undefined, code: string, message: string): void {
    this.#refusals.inc({ peer: domain ?? 'unknown', code });
    if (domain) this.update(domain, { lastError: { code, message, at: new Date().toISOString() } });
  }

  /** Counts a link's bytes live while it is open, and keeps its totals after it closes. */
  track(domain: string, session: { counters: { bytesIn: number; bytesOut: number }; once(event: 'close', listener: () => void): unknown }): void {
    let set = this.#live.get(domain);
    if (!set) this.#live.set(domain, (set = new Set()));
    set.add(session);
    session.once('close', () => {
      set.delete(session);
      const closed = this.#closedBytes.get(domain) ?? { in: 0, out: 0 };
      closed.in += session.counters.bytesIn;
      closed.out += session.counters.bytesOut;
      this.#closedBytes.set(domain, closed);
    });
  }

  #totals(domain: string): { in: number; out: number } {
    const total = { ...(this.#closedBytes.get(domain) ?? { in: 0, out: 0 }) };
    for (const s of this.#live.get(domain) ?? []) {
      total.in += s.counters.bytesIn;
      total.out += s.counters.bytesOut;
    }
    return total;
  }

  forget(domain: string): void {
    this.#status.delete(domain);
    this.#closedBytes.delete(domain);
  }
}
