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
  readonly #bytes: Counter<'peer' | 'direction'>;

  constructor(registry: Registry) {
    super();
    this.#refusals = new Counter({
      name: 'consulate_link_refusals_total',
      help: 'Link handshakes and frames refused, by peer (or "unknown") and stable error code.',
      labelNames: ['peer', 'code'],
      registers: [registry],
    });
    this.#bytes = new Counter({
      name: 'consulate_link_bytes_total',
      help: 'Bytes carried on federation links, by peer and direction.',
      labelNames: ['peer', 'direction'],
      registers: [registry],
    });
    const statuses = this.#status;
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
    return status;
  }

  all(): PeerStatus[] {
    return [...this.#status.values()];
  }

  update(domain: string, patch: Partial<Omit<PeerStatus, 'domain'>>): void {
    const status = Object.assign(this.get(domain), patch);
    this.emit('change', status);
  }

  recordError(domain: string | undefined, code: string, message: string): void {
    this.#refusals.inc({ peer: domain ?? 'unknown', code });
    if (domain) this.update(domain, { lastError: { code, message, at: new Date().toISOString() } });
  }

  addBytes(domain: string, inBytes: number, outBytes: number): void {
    const status = this.get(domain);
    status.bytesIn += inBytes;
    status.bytesOut += outBytes;
    if (inBytes) this.#bytes.inc({ peer: domain, direction: 'in' }, inBytes);
    if (outBytes) this.#bytes.inc({ peer: domain, direction: 'out' }, outBytes);
  }

  forget(domain: string): void {
    this.#status.delete(domain);
  }
}
