import type { NotificationSettings, ServiceStateName } from './contract.js';

/**
 * The service's event stream (GET /api/events on the admin listener, text/event-stream)
 * turned into native notifications and the tray colour. Plain module: main.ts feeds it
 * bytes from a fetch made with the GUI's session and shows what it returns.
 */

export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/** Incremental text/event-stream parser (WHATWG HTML, "Server-sent events"). */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;

  push(chunk: string): ServerSentEvent[] {
    this.#buffer += chunk;
    const out: ServerSentEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!match || (match[0] === '\r' && match.index === this.#buffer.length - 1)) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      if (line === '') {
        if (this.#data.length > 0)
          out.push({ event: this.#event || 'message', data: this.#data.join('\n'), ...(this.#id !== undefined ? { id: this.#id } : {}) });
        this.#event = '';
        this.#data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.#event = value;
      else if (field === 'data') this.#data.push(value);
      else if (field === 'id' && !value.includes('\0')) this.#id = value;
    }
    return out;
  }
}

export type ServiceEvent =
  | { type: 'certificate.expiring'; name: string; expiresAt: string; daysLeft: number }
  | { type: 'peer.down'; domain: string; lastError?: string }
  | { type: 'peer.up'; domain: string }
  | { type: 'key.changed'; domain: string; fingerprint: string };

/** Decodes one SSE event; unknown or malformed events are ignored (the stream may carry more types than the shell shows). */
export function parseServiceEvent(sse: ServerSentEvent): ServiceEvent | undefined {
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(sse.data);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    body = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
  switch (sse.event) {
    case 'certificate.expiring': {
      const name = str('name');
      const expiresAt = str('expiresAt');
      const daysLeft = body['daysLeft'];
      if (!name || !expiresAt || typeof daysLeft !== 'number') return undefined;
      return { type: 'certificate.expiring', name, expiresAt, daysLeft };
    }
    case 'peer.down': {
      const domain = str('domain');
      const lastError = str('lastError');
      return domain ? { type: 'peer.down', domain, ...(lastError ? { lastError } : {}) } : undefined;
    }
    case 'peer.up': {
      const domain = str('domain');
      return domain ? { type: 'peer.up', domain } : undefined;
    }
    case 'key.changed': {
      const domain = str('domain');
      const fingerprint = str('fingerprint');
      return domain && fingerprint ? { type: 'key.changed', domain, fingerprint } : undefined;
    }
    default:
      return undefined;
  }
}

export interface NotificationContent {
  title: string;
  body: string;
  /** Critical notifications stay until dismissed where the OS supports it. */
  urgency: 'normal' | 'critical';
}

export function notificationFor(event: ServiceEvent, settings: NotificationSettings): NotificationContent | undefined {
  switch (event.type) {
    case 'certificate.expiring':
      if (!settings.certificateExpiry) return undefined;
      return {
        title: event.daysLeft <= 0 ? 'Certificate expired' : 'Certificate expires soon',
        body:
          event.daysLeft <= 0
            ? `${event.name} expired on ${event.expiresAt.slice(0, 10)}. Peers will refuse the link until it is renewed.`
            : `${event.name} expires in ${event.daysLeft} day${event.daysLeft === 1 ? '' : 's'} (${event.expiresAt.slice(0, 10)}).`,
        urgency: event.daysLeft <= 7 ? 'critical' : 'normal',
      };
    case 'peer.down':
      if (!settings.peerDown) return undefined;
      return {
        title: `Peer ${event.domain} is unreachable`,
        body: event.lastError ?? 'The federation link is down; messages are queued until it returns.',
        urgency: 'normal',
      };
    case 'key.changed':
      if (!settings.keyChange) return undefined;
      return {
        title: `Key change from ${event.domain}`,
        body: `${event.domain} presented key ${event.fingerprint}, which is not pinned. Confirm it with their administrator before trusting it.`,
        urgency: 'critical',
      };
    case 'peer.up':
      return undefined;
  }
}

export type TrayColour = 'green' | 'amber' | 'red';

/** Problems reported by the event stream that are still open. */
export class OpenProblems {
  readonly #peersDown = new Set<string>();
  readonly #expiring = new Map<string, number>();
  readonly #keyChanges = new Set<string>();

  apply(event: ServiceEvent): void {
    if (event.type === 'peer.down') this.#peersDown.add(event.domain);
    else if (event.type === 'peer.up') this.#peersDown.delete(event.domain);
    else if (event.type === 'certificate.expiring') this.#expiring.set(event.name, event.daysLeft);
    else this.#keyChanges.add(event.domain);
  }

  clear(): void {
    this.#peersDown.clear();
    this.#expiring.clear();
    this.#keyChanges.clear();
  }

  summary(): { peersDown: string[]; certificatesExpiring: string[]; keyChanges: string[]; certificateExpired: boolean } {
    return {
      peersDown: [...this.#peersDown].sort(),
      certificatesExpiring: [...this.#expiring.keys()].sort(),
      keyChanges: [...this.#keyChanges].sort(),
      certificateExpired: [...this.#expiring.values()].some((days) => days <= 0),
    };
  }
}

/**
 * Overall status for the tray: red when the service is not serving (or a certificate
 * has expired, which stops federation), amber while it is changing state or something
 * needs attention, green otherwise.
 */
export function trayStatus(state: ServiceStateName, problems: ReturnType<OpenProblems['summary']>): { colour: TrayColour; tooltip: string } {
  if (state === 'crash-loop' || state === 'stopped' || state === 'idle')
    return { colour: 'red', tooltip: state === 'crash-loop' ? 'Consulate: service keeps crashing' : 'Consulate: service stopped' };
  if (state !== 'ready') return { colour: 'amber', tooltip: `Consulate: service ${state}` };
  if (problems.certificateExpired) return { colour: 'red', tooltip: 'Consulate: a certificate has expired' };
  const notes = [
    problems.peersDown.length > 0 ? `${problems.peersDown.length} peer${problems.peersDown.length === 1 ? '' : 's'} down` : '',
    problems.keyChanges.length > 0 ? `key change from ${problems.keyChanges.join(', ')}` : '',
    problems.certificatesExpiring.length > 0 ? 'certificate expiring' : '',
  ].filter(Boolean);
  if (notes.length > 0) return { colour: 'amber', tooltip: `Consulate: ${notes.join('; ')}` };
  return { colour: 'green', tooltip: 'Consulate: running' };
}
