import { request as httpRequest } from 'node:http';
import { ulid } from 'ulid';

export interface InboundItem {
  seq: number;
  id: string;
  from: string;
  to: string[];
  type: string;
  ts: number;
  body: string;
  ref?: string;
  external: boolean;
  origin: string;
}

/** A minimal home messaging server speaking the home API, as a test driver. */
export class HomeClient {
  constructor(
    public baseUrl: string,
    private readonly key: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /**
   * POSTs raw bytes with node:http, so a test controls the headers: without `content-length` the
   * body goes chunked, and `declaredLength` announces more bytes than are sent.
   */
  raw(path: string, body: string, headers: Record<string, string> = {}, declaredLength?: number): Promise<{ status: number; code: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.key}`,
          'content-type': 'application/json',
          ...headers,
          ...(declaredLength === undefined ? {} : { 'content-length': String(declaredLength) }),
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error?: { code: string } }).error?.code ?? '' });
          req.destroy();
        });
      });
      if (declaredLength === undefined) {
        // two writes: the second after a turn, so the body really arrives in chunks
        req.write(body.slice(0, 10));
        setImmediate(() => req.end(body.slice(10)));
      } else req.write(body);
    });
  }

  putUser(user: string, keyBundle: Uint8Array, displayName = user) {
    return this.call('PUT', `/v1/directory/${encodeURIComponent(user)}`, { displayName, keyBundle: Buffer.from(keyBundle).toString('base64') });
  }

  /** Submits messages whose bodies are the given strings; returns ids in order. */
  async send(from: string, to: string[], bodies: string[], type = 'message'): Promise<{ status: number; ids: string[]; body: unknown }> {
    const envelopes = bodies.map((b) => ({ id: ulid(), from, to, type, ts: Date.now(), body: Buffer.from(b).toString('base64') }));
    const result = await this.call('POST', '/v1/envelopes', { envelopes });
    return { status: result.status, ids: envelopes.map((e) => e.id), body: result.body };
  }

  /** Takes everything waiting (long-polling until `expect` items came or the time is up), acknowledging as it goes. */
  async receive(expect: number, timeoutMs = 20_000): Promise<InboundItem[]> {
    const items: InboundItem[] = [];
    const deadline = Date.now() + timeoutMs;
    let cursor = 0;
    while (items.length < expect && Date.now() < deadline) {
      const { body } = await this.call<{ items: InboundItem[]; cursor: number }>('GET', `/v1/inbound?after=${cursor}&wait=2&limit=5000`);
      if (body.items.length === 0) continue;
      items.push(...body.items);
      cursor = body.cursor;
      await this.call('POST', '/v1/inbound/ack', { ids: body.items.map((i) => i.id) });
    }
    return items;
  }
}

export function bodyText(item: InboundItem): string {
  return Buffer.from(item.body, 'base64').toString('utf8');
}
