import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { LiveSnapshot, LogEntryView, PeerLive } from '../../service/admin/contract.js';
import { ApiError, api } from './api.js';

export interface RatePoint {
  time: string;
  [domain: string]: number | string;
}

export type Connection = 'connecting' | 'live' | 'polling';

export interface LiveState {
  snapshot: LiveSnapshot | undefined;
  /** Bytes per second per peer (in + out), one point per status event, the last 2 minutes. */
  rates: RatePoint[];
  connection: Connection;
  logs: LogEntryView[];
  /** Asks for a fresh snapshot now (after an action), instead of waiting for the next tick. */
  refresh(): void;
}

const LiveContext = createContext<LiveState | undefined>(undefined);

const historyLength = 60;
const logLimit = 2000;

function clock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * The live view of the service: an EventSource on /api/events (status every 2 s, peer
 * changes at once, log lines), falling back to polling /api/live if the stream fails.
 */
export function LiveProvider({ children, onLost }: { children: ReactNode; onLost: () => void }) {
  const [snapshot, setSnapshot] = useState<LiveSnapshot | undefined>();
  const [rates, setRates] = useState<RatePoint[]>([]);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [logs, setLogs] = useState<LogEntryView[]>([]);
  const previous = useRef<{ at: number; totals: Map<string, number> } | undefined>(undefined);
  const onLostRef = useRef(onLost);
  useEffect(() => {
    onLostRef.current = onLost;
  }, [onLost]);

  const applySnapshot = useCallback((next: LiveSnapshot) => {
    setSnapshot(next);
    const at = Date.parse(next.at);
    const totals = new Map(next.peers.map((p) => [p.domain, p.bytesIn + p.bytesOut]));
    const before = previous.current;
    previous.current = { at, totals };
    if (!before || at <= before.at) return;
    const seconds = (at - before.at) / 1000;
    const point: RatePoint = { time: clock(next.at) };
    for (const [domain, total] of totals) point[domain] = Math.max(0, (total - (before.totals.get(domain) ?? total)) / seconds);
    setRates((list) => [...list, point].slice(-historyLength));
  }, []);

  const refresh = useCallback(() => {
    api.live().then(applySnapshot, (error: unknown) => {
      if (error instanceof ApiError && error.status === 401) onLostRef.current();
    });
  }, [applySnapshot]);

  useEffect(() => {
    let closed = false;
    let poll: number | undefined;
    const source = new EventSource('/api/events');
    const startPolling = () => {
      if (poll !== undefined || closed) return;
      setConnection('polling');
      refresh();
      poll = window.setInterval(refresh, 2000);
    };
    source.addEventListener('open', () => setConnection('live'));
    source.addEventListener('status', (event) => applySnapshot(JSON.parse((event as MessageEvent<string>).data) as LiveSnapshot));
    source.addEventListener('peer', (event) => {
      const peer = JSON.parse((event as MessageEvent<string>).data) as PeerLive;
      setSnapshot((current) => (current ? { ...current, peers: current.peers.map((p) => (p.domain === peer.domain ? peer : p)) } : current));
    });
    source.addEventListener('log', (event) => {
      const entry = JSON.parse((event as MessageEvent<string>).data) as LogEntryView;
      setLogs((list) => (list.some((e) => e.id === entry.id) ? list : [...list, entry].slice(-logLimit)));
    });
    source.addEventListener('error', () => {
      // EventSource retries by itself after a dropped connection; CLOSED means it gave up (e.g. 401).
      if (source.readyState === EventSource.CLOSED) startPolling();
    });
    return () => {
      closed = true;
      source.close();
      if (poll !== undefined) window.clearInterval(poll);
    };
  }, [applySnapshot, refresh]);

  const value = useMemo<LiveState>(() => ({ snapshot, rates, connection, logs, refresh }), [snapshot, rates, connection, logs, refresh]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveState {
  const value = useContext(LiveContext);
  if (!value) throw new Error('useLive outside LiveProvider');
  return value;
}

/** Adds lines fetched with GET /api/logs to those that arrived on the stream. */
export function mergeLogs(a: LogEntryView[], b: LogEntryView[]): LogEntryView[] {
  const byId = new Map<number, LogEntryView>();
  for (const e of [...a, ...b]) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => x.id - y.id).slice(-logLimit);
}
