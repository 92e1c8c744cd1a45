import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Router from '@koa/router';
import Koa from 'koa';
import { WebSocketServer, type WebSocket } from 'ws';
import type { z } from 'zod';
import { closeServer, listenError } from '../admin/server.js';
import { ConsulateError, isConsulateError } from '../errors.js';
import type { EnvelopeRouter } from '../federation/router.js';
import type { Whitelist } from '../federation/whitelist.js';
import { LinkError } from '../link/errors.js';
import type { LinkManager } from '../link/manager.js';
import type { InboxRow, QueueStore } from '../queue/queue-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApiKeys } from './api-keys.js';
import {
  ackRequest,
  directoryPut,
  inboundQuery,
  lookupRequest,
  recallRequest,
  streamSubmit,
  submitRequest,
  type InboundItem,
  type LookupResult,
} from './contract.js';
import type { Directory } from './directory.js';
import { jsonBody } from './json-body.js';
import { isPlainStreamSubmit, isPlainSubmit, type SubmitRequest } from './submit-check.js';

export interface HomeServerOptions {
  host: string;
  port: number;
  ownDomain: string;
  logger: Logger;
  apiKeys: ApiKeys;
  directory: Directory;
  queue: QueueStore;
  router: EnvelopeRouter;
  whitelist: Whitelist;
  links: LinkManager;
  /** How long look-up answers from peers are cached (default 60 s). */
  lookupTtlMs?: number;
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ConsulateError('bad_request', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

/** A submit request: the fast path when it passes (submit-check.ts), otherwise zod, which gives the error. */
function parseSubmit(value: unknown): SubmitRequest {
  return isPlainSubmit(value) ? value : parse(submitRequest, value);
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromB64(text: string): Uint8Array {
  const buffer = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Inbox items per stream message. */
const PUSH_BATCH = 500;
/** Submissions a stream may have waiting before the server stops reading from it. */
const MAX_PENDING_SUBMITS = 16;

interface Stream {
  ws: WebSocket;
  /** The last inbox seq sent on this stream. */
  cursor: number;
  pushing: boolean;
  /** The chain that keeps this stream's submissions in order. */
  submits: Promise<void>;
  pendingSubmits: number;
}

export function toInboundItem(row: InboxRow): InboundItem {
  return {
    seq: row.seq,
    id: row.envId,
    from: row.sender,
    to: JSON.parse(row.recipients) as string[],
    type: row.type as InboundItem['type'],
    ts: row.ts,
    body: b64(row.body),
    ...(row.ref ? { ref: row.ref } : {}),
    external: row.type !== 'undeliverable',
    origin: row.origin,
  };
}

/**
 * The home API: what the organisation's own messaging server talks to. API-key
 * authenticated, on an internal address. Documented in docs/home-api.yaml.
 */
export class HomeServer {
  readonly server: Server;
  readonly #o: HomeServerOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  readonly #waiters = new Set<() => void>();
  readonly #streams = new Set<Stream>();
  readonly #cache = new Map<string, { result: LookupResult; expires: number }>();
  #port = 0;

  constructor(options: HomeServerOptions) {
    this.#o = options;
    const app = new Koa();
    const router = new Router({ prefix: '/v1' });
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const e = this.#known(error, ctx.path);
        ctx.status = e instanceof LinkError ? 502 : e.status;
        ctx.body = { error: { code: e.code, message: e.message } };
      }
    });
    app.use(async (ctx, next) => {
      if (ctx.path === '/v1/health') return next();
      const key = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
      if (!options.apiKeys.verify(key))
        throw new ConsulateError('unauthorized', 'missing, wrong or revoked API key (Authorization: Bearer csk_…)', { status: 401 });
      return next();
    });
    app.use(jsonBody(64 * 1024 * 1024));

    router.get('/health', (ctx) => {
      ctx.body = { status: 'ok' };
    });
    router.get('/directory', (ctx) => {
      ctx.body = {
        users: options.directory.list().map((e) => ({ user: e.user, displayName: e.displayName, keyBundle: b64(e.keyBundle), updated: e.updatedAt })),
      };
    });
    router.put('/directory/:user', (ctx) => {
      const body = parse(directoryPut, ctx.request.body);
      const entry = options.directory.put(ctx.params['user'] as string, body.displayName, fromB64(body.keyBundle));
      ctx.body = { user: entry.user, displayName: entry.displayName, keyBundle: b64(entry.keyBundle), updated: entry.updatedAt };
    });
    router.delete('/directory/:user', (ctx) => {
      if (!options.directory.delete(ctx.params['user'] as string)) throw new ConsulateError('not_found', `no user ${ctx.params['user']}`, { status: 404 });
      ctx.status = 204;
    });
    router.post('/lookup', async (ctx) => {
      ctx.body = { results: await this.lookup(parse(lookupRequest, ctx.request.body).users) };
    });
    router.post('/envelopes', async (ctx) => {
      const result = await this.#submit(parseSubmit(ctx.request.body));
      // As on the stream: the batch this commit kicked leaves for the peer before the answer.
      await nextTurn();
      // 202 only now: the envelopes are committed to the outbox.
      ctx.status = 202;
      ctx.body = result;
    });
    router.post('/envelopes/:id/recall', async (ctx) => {
      const { from } = parse(recallRequest, ctx.request.body);
      ctx.body = await options.router.recall(ctx.params['id'] as string, from);
    });
    router.get('/inbound', async (ctx) => {
      const query = parse(inboundQuery, ctx.query);
      let rows = options.queue.inbox(query.after, query.limit);
      if (rows.length === 0 && query.wait > 0) {
        await this.#waitForInbound(query.wait * 1000, ctx.req);
        rows = options.queue.inbox(query.after, query.limit);
      }
      ctx.body = { items: rows.map(toInboundItem), cursor: rows.at(-1)?.seq ?? query.after };
    });
    router.post('/inbound/ack', (ctx) => {
      ctx.body = { acked: options.queue.ack(parse(ackRequest, ctx.request.body).ids) };
    });
    router.all('/{*rest}', () => {
      throw new ConsulateError('not_found', 'no such home API endpoint', { status: 404 });
    });
    app.use(router.routes()).use(router.allowedMethods());

    this.server = createServer(app.callback());
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('key') ?? undefined;
      const keyId = url.pathname === '/v1/inbound/stream' ? options.apiKeys.verify(key) : undefined;
      if (keyId === undefined) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#stream(ws, keyId, Number(url.searchParams.get('after') ?? 0) || 0));
    });
  }

  /**
   * Wakes long-polls and pushes to streams after a peer's batch committed. `inserted` are the
   * rows the batch added: a stream that has seen every row before them gets them as they are,
   * without reading them back from the inbox.
   */
  notify(inserted: InboxRow[] = []): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
    const first = inserted[0];
    for (const stream of this.#streams) {
      const caughtUp = first !== undefined && first.seq > stream.cursor && !this.#o.queue.inboxHasBetween(stream.cursor, first.seq);
      if (caughtUp && !stream.pushing && stream.ws.readyState === stream.ws.OPEN) {
        for (let i = 0; i < inserted.length; i += PUSH_BATCH) this.#send(stream, inserted.slice(i, i + PUSH_BATCH));
      } else this.#push(stream);
    }
  }

  async lookup(users: string[]): Promise<LookupResult[]> {
    const { ownDomain, directory, whitelist, links } = this.#o;
    const results = new Map<string, LookupResult>();
    const remote = new Map<string, string[]>();
    const now = Date.now();
    for (const user of users) {
      const domain = user.slice(user.lastIndexOf('@') + 1);
      if (domain === ownDomain) {
        const entry = directory.get(user);
        results.set(
          user,
          entry
            ? { user, status: 'found', displayName: entry.displayName, keyBundle: b64(entry.keyBundle), updated: entry.updatedAt }
            : { user, status: 'not_found' },
        );
        continue;
      }
      const cached = this.#cache.get(user);
      if (cached && cached.expires > now) {
        results.set(user, { ...cached.result, cached: true });
        continue;
      }
      remote.set(domain, [...(remote.get(domain) ?? []), user]);
    }
    await Promise.all(
      [...remote].map(async ([domain, domainUsers]) => {
        const fail = (status: LookupResult['status'], message: string) => domainUsers.forEach((user) => results.set(user, { user, status, message }));
        const peer = await whitelist.get(domain).catch(() => undefined);
        if (!peer) return fail('not_whitelisted', `${domain} is not on the whitelist`);
        if (peer.state !== 'active') return fail('peer_unreachable', `${domain} is suspended`);
        if (!peer.capabilities.lookup) return fail('capability_denied', `look-ups are not enabled for ${domain}`);
        try {
          const answer = await links.request<'lookup'>(domain, { t: 'lookup', users: domainUsers }, 5000);
          for (const r of answer.results) {
            if (!domainUsers.includes(r.user)) continue;
            const result: LookupResult = r.found
              ? {
                  user: r.user,
                  status: 'found',
                  ...(r.displayName !== undefined ? { displayName: r.displayName } : {}),
                  ...(r.keyBundle ? { keyBundle: b64(r.keyBundle) } : {}),
                  ...(r.updated !== undefined ? { updated: r.updated } : {}),
                }
              : { user: r.user, status: 'not_found' };
            results.set(r.user, result);
            this.#cache.set(r.user, { result, expires: Date.now() + (this.#o.lookupTtlMs ?? 60_000) });
          }
        } catch (error) {
          const code = error instanceof LinkError && error.code === 'capability_denied' ? 'capability_denied' : 'peer_unreachable';
          fail(code, (error as Error).message);
        }
      }),
    );
    return users.map((user) => results.get(user) ?? { user, status: 'peer_unreachable', message: 'no answer' });
  }

  #waitForInbound(ms: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      req.once('close', done);
    });
  }

  /** The error a home gets for a failed request or stream message; unexpected ones are logged once. */
  #known(error: unknown, what: string): ConsulateError {
    if (isConsulateError(error)) return error;
    const status = (error as { status?: number }).status;
    if (status && status < 500) return new ConsulateError('bad_request', (error as Error).message);
    this.#o.logger.error({ err: error, path: what }, 'home API request failed');
    return new ConsulateError('internal', 'internal error; see the service log', { status: 500 });
  }

  /** Validated envelopes from the home, committed to the outbox when this resolves. */
  #submit({ envelopes }: z.infer<typeof submitRequest>): Promise<{ accepted: string[]; duplicates: string[] }> {
    return this.#o.router.submit(envelopes.map((e) => ({ ...e, body: fromB64(e.body) })));
  }

  #stream(ws: WebSocket, keyId: string, after: number): void {
    const stream: Stream = { ws, cursor: after, pushing: false, submits: Promise.resolve(), pendingSubmits: 0 };
    this.#streams.add(stream);
    const reply = (message: object) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    ws.on('message', (data) => {
      if (!this.#o.apiKeys.active(keyId)) {
        ws.close(4401, 'unauthorized: the API key was revoked');
        return;
      }
      let message: { ack?: unknown; submit?: unknown; tag?: unknown };
      try {
        message = JSON.parse(data.toString()) as typeof message;
        if (message === null || typeof message !== 'object') throw new Error('not an object');
      } catch {
        reply({ error: { code: 'bad_request', message: 'a stream message must be a JSON object: {"ack": [...]} or {"submit": {...}}' } });
        return;
      }
      if ('submit' in message) {
        this.#streamSubmit(stream, message, reply);
        return;
      }
      try {
        const { ids } = parse(ackRequest, { ids: message.ack });
        this.#o.queue.ackLater(ids);
      } catch (error) {
        const e = this.#known(error, '/v1/inbound/stream');
        reply({ error: { code: e.code, message: e.message } });
      }
    });
    ws.on('close', () => this.#streams.delete(stream));
    // A protocol error (a message over 4 MiB, a bad frame): ws closes the stream itself (1009, 1002);
    // without a listener the error would end the whole process.
    ws.on('error', (error) => this.#o.logger.warn({ err: error.message, key: keyId }, 'home stream closed after a protocol error'));
    this.#push(stream);
  }

  /**
   * A submission on the stream: handled strictly after the ones before it on the same stream,
   * answered after the commit (as a 202 would be), with the client's tag. Reading from the
   * socket pauses while too many wait, so a fast client is slowed down, not buffered without end.
   */
  #streamSubmit(stream: Stream, message: { tag?: unknown }, reply: (message: object) => void): void {
    const tag = typeof message.tag === 'string' || typeof message.tag === 'number' ? { tag: message.tag } : {};
    stream.pendingSubmits++;
    if (stream.pendingSubmits >= MAX_PENDING_SUBMITS) stream.ws.pause();
    // Answers wait for the next turn of the event loop, in order: by then the batch this
    // commit kicked has left for the peer, so the recipient does not wait for the answer's write.
    const answer = (message: object) => setImmediate(reply, message);
    stream.submits = stream.submits.then(async () => {
      try {
        const { submit } = isPlainStreamSubmit(message) ? message : parse(streamSubmit, message);
        answer({ submitted: await this.#submit(submit), ...tag });
      } catch (error) {
        const e = this.#known(error, '/v1/inbound/stream');
        answer({ error: { code: e.code, message: e.message }, ...tag });
      } finally {
        stream.pendingSubmits--;
        if (stream.ws.isPaused && stream.pendingSubmits < MAX_PENDING_SUBMITS) stream.ws.resume();
      }
    });
  }

  #push(stream: Stream): void {
    if (stream.pushing || stream.ws.readyState !== stream.ws.OPEN) return;
    stream.pushing = true;
    try {
      for (;;) {
        const rows = this.#o.queue.inbox(stream.cursor, PUSH_BATCH);
        if (rows.length === 0) break;
        this.#send(stream, rows);
      }
    } finally {
      stream.pushing = false;
    }
  }

  #send(stream: { ws: WebSocket; cursor: number }, rows: InboxRow[]): void {
    stream.ws.send(JSON.stringify({ items: rows.map(toInboundItem) }));
    stream.cursor = Math.max(stream.cursor, rows.at(-1)?.seq ?? 0);
  }

  async listen(): Promise<number> {
    const { host, port } = this.#o;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) => reject(listenError('home API', host, port, error)));
      this.server.listen(port, host, () => resolve());
    });
    this.#port = (this.server.address() as AddressInfo).port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  async close(): Promise<void> {
    for (const wake of this.#waiters) wake();
    const pending = [...this.#streams].map((s) => s.submits);
    for (const s of this.#streams) s.ws.terminate();
    this.#wss.close();
    await closeServer(this.server, 1000);
    // Submissions a stream had already queued finish (each one commits or fails whole) before the service goes on to close the store.
    await Promise.allSettled(pending);
  }
}
