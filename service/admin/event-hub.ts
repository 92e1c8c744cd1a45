import type { AdminEventMap, LiveSnapshot, PeerLive } from './contract.js';
import type { PeerStatus } from '../federation/peer-status.js';

export type AdminEventName = keyof AdminEventMap;
export type Send = <E extends AdminEventName>(event: E, data: AdminEventMap[E]) => void;

export interface EventHubSources {
  snapshot(): Promise<LiveSnapshot>;
  /** Subscribes to live peer status changes; returns the unsubscribe function. */
  onPeerChange(listener: (status: PeerStatus) => void): () => void;
  /** Subscribes to whitelist edits (add, suspend, sever…); returns the unsubscribe function. */
  onWhitelistChange(listener: () => void): () => void;
  /** Subscribes to new log lines, if the log tail is attached. */
  onLog?(listener: (entry: AdminEventMap['log']) => void): () => void;
  peerState(domain: string): PeerLive['state'] | undefined;
  intervalMs?: number;
}

/**
 * Fans the service's live state out to every open event stream: a full snapshot every
 * 2 s, peer changes as they happen, and the up/down/key-change transitions the desktop
 * shell turns into notifications. Subscribes to the service only while someone listens.
 */
export class AdminEventHub {
  readonly #clients = new Set<Send>();
  readonly #sources: EventHubSources;
  readonly #lastOutbound = new Map<string, string>();
  readonly #lastAlarm = new Map<string, string | null>();
  #lastCertState: string | undefined;
  #unsubscribe: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #pending: NodeJS.Timeout | undefined;

  constructor(sources: EventHubSources) {
    this.#sources = sources;
  }

  get clients(): number {
    return this.#clients.size;
  }

  subscribe(send: Send): () => void {
    this.#clients.add(send);
    if (this.#clients.size === 1) this.#start();
    void this.#sources.snapshot().then(
      (s) => this.#clients.has(send) && send('status', s),
      () => undefined,
    );
    return () => {
      this.#clients.delete(send);
      if (this.#clients.size === 0) this.#stop();
    };
  }

  #broadcast: Send = (event, data) => {
    for (const client of this.#clients) {
      try {
        client(event, data);
      } catch {
        // A broken stream is removed by its own close handler.
      }
    }
  };

  #start(): void {
    const sources = this.#sources;
    const tick = () =>
      void sources.snapshot().then(
        (s) => {
          for (const p of s.peers) this.#track(p);
          this.#trackCertificate(s);
          this.#broadcast('status', s);
        },
        () => undefined,
      );
    this.#timer = setInterval(tick, sources.intervalMs ?? 2000);
    this.#timer.unref();
    this.#unsubscribe = [
      sources.onPeerChange((status) => {
        const state = sources.peerState(status.domain);
        if (!state) return;
        const { domain, ...rest } = status;
        const live: PeerLive = { domain, state, ...rest };
        this.#track(live);
        this.#broadcast('peer', live);
      }),
      // A whitelist edit changes the peer list: push a fresh snapshot soon, not in 2 s.
      sources.onWhitelistChange(() => {
        clearTimeout(this.#pending);
        this.#pending = setTimeout(tick, 50);
      }),
      ...(sources.onLog ? [sources.onLog((entry) => this.#broadcast('log', entry))] : []),
    ];
  }

  #stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#pending);
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
  }

  /** Emits certificate.expiring when the federation certificate enters warning, critical or expired. */
  #trackCertificate(snapshot: LiveSnapshot): void {
    const cert = snapshot.certificate;
    const state = cert?.state ?? 'missing';
    const before = this.#lastCertState;
    this.#lastCertState = state;
    if (!cert || state === before || state === 'ok') return;
    this.#broadcast('certificate.expiring', { name: `federation certificate (${cert.subject})`, expiresAt: cert.notAfter, daysLeft: cert.daysLeft });
  }

  /** Emits peer.up / peer.down on outbound transitions, and key.changed when an alarm appears. */
  #track(peer: PeerLive): void {
    const before = this.#lastOutbound.get(peer.domain);
    this.#lastOutbound.set(peer.domain, peer.outbound);
    if (before !== undefined && before !== peer.outbound) {
      if (peer.outbound === 'up') this.#broadcast('peer.up', { domain: peer.domain });
      else if (before === 'up')
        this.#broadcast('peer.down', { domain: peer.domain, ...(peer.lastError ? { lastError: `${peer.lastError.code}: ${peer.lastError.message}` } : {}) });
    }
    const alarmBefore = this.#lastAlarm.get(peer.domain);
    this.#lastAlarm.set(peer.domain, peer.keyAlarm);
    if (peer.keyAlarm && peer.keyAlarm !== alarmBefore) {
      this.#broadcast('key.changed', { domain: peer.domain, fingerprint: 'not pinned: see the Peers screen' });
    }
  }
}
