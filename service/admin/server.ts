import { createReadStream, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import serve from 'koa-static';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { ConsulateError, isConsulateError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { version } from '../version.js';
import { anyLoginRequest, csrfHeader, sessionCookie, type HealthResponse, type ReadinessResponse, type SessionResponse } from './contract.js';
import { LoginRateLimit } from './rate-limit.js';
import { SessionStore, type Session } from './sessions.js';

export interface ReadinessSource {
  readiness(): ReadinessResponse['components'];
}

export interface AdminServerOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: Registry;
  sessions: SessionStore;
  readiness: ReadinessSource;
  allowedHosts?: string[];
  /** Directory of the built GUI; defaults to dist/renderer beside the service. */
  rendererDir?: string;
  /** Failed-login limit per remote address; default 5 a minute. */
  loginRateLimit?: LoginRateLimit;
  /** Routes added by the sub-services (status, peers, …), all behind the session check. */
  routes?: Array<(router: Router<AdminState>) => void>;
}

export interface AdminState {
  session?: Session;
  /** Aborted when the listener begins to close, so long-lived responses (event streams) end first. */
  closing?: AbortSignal;
}

export interface AdminServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

function defaultRendererDir(): string {
  // service/admin → dist/renderer (tests, tsx); dist/service/admin → dist/renderer (built).
  for (const rel of ['../../dist/renderer', '../../renderer']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/index.html`)) return dir;
  }
  return fileURLToPath(new URL('../../dist/renderer', import.meta.url));
}

/** Validates a body with a contract schema; a mismatch is a 400 with the first problem named. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ConsulateError('bad_request', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`, { status: 400 });
}

const publicPaths = new Set(['/healthz', '/readyz', '/metrics']);

/** API paths a browser may call before it has a session (the login page). */
export const publicApiPaths = new Set(['GET /api/login-info', 'POST /api/session']);

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const app = new Koa<AdminState>();
  app.proxy = false;
  const router = new Router<AdminState>();
  const { logger, sessions } = options;
  const limit = options.loginRateLimit ?? new LoginRateLimit();
  const closing = new AbortController();
  let allowed = new Set<string>();

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (isConsulateError(error)) {
        ctx.status = error.status;
        ctx.body = { error: { code: error.code, message: error.message } };
        if (error.status >= 500) logger.error({ err: error }, 'admin request failed');
        return;
      }
      const status = (error as { status?: number }).status;
      if (status && status < 500) {
        ctx.status = status;
        ctx.body = { error: { code: 'bad_request', message: (error as Error).message } };
        return;
      }
      logger.error({ err: error, path: ctx.path }, 'admin request failed');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal', message: 'internal error; see the service log' } };
    }
  });

  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    );
    if (publicPaths.has(ctx.path)) return next();
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends its own Host.
    if (!allowed.has((ctx.get('host') || '').toLowerCase())) {
      logger.warn({ host: ctx.get('host'), path: ctx.path }, 'admin request refused: unexpected Host header');
      throw new ConsulateError('bad_host', 'Host header does not name this admin listener', { status: 421 });
    }
    return next();
  });

  // DELETE carries a body here: destructive actions repeat the name they act on as confirmation.
  // Backups (the whole configuration, certificates and directory included) may be larger.
  const parsedMethods = ['POST', 'PUT', 'PATCH', 'DELETE'];
  const smallBodies = bodyParser({ enableTypes: ['json'], jsonLimit: '1mb', parsedMethods });
  const backupBodies = bodyParser({ enableTypes: ['json'], jsonLimit: '48mb', parsedMethods });
  app.use((ctx, next) => (ctx.path.startsWith('/api/backup') ? backupBodies(ctx, next) : smallBodies(ctx, next)));

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok', version } satisfies HealthResponse;
  });
  router.get('/readyz', (ctx) => {
    const components = options.readiness.readiness();
    const ready = Object.values(components).every((c) => c.ready);
    ctx.status = ready ? 200 : 503;
    ctx.body = { ready, components } satisfies ReadinessResponse;
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = options.metrics.contentType;
    ctx.body = await options.metrics.metrics();
  });

  // Everything under /api needs a session; state changes also need the CSRF header
  // and, when the browser sends one, an Origin of this listener.
  const api = new Router<AdminState>({ prefix: '/api' });
  api.use(async (ctx, next) => {
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(ctx.method);
    if (unsafe) {
      const origin = ctx.get('origin');
      if (origin && !allowed.has(origin.replace(/^https?:\/\//, '').toLowerCase())) {
        logger.warn({ origin, path: ctx.path }, 'admin request refused: cross-site origin');
        throw new ConsulateError('csrf', 'cross-site request refused', { status: 403 });
      }
    }
    ctx.state.closing = closing.signal;
    if (publicApiPaths.has(`${ctx.method} ${ctx.path}`)) return next();
    const session = sessions.get(ctx.cookies.get(sessionCookie));
    if (!session)
      throw new ConsulateError('unauthorized', 'log in first: open the admin URL printed at start, or log in with the admin password', { status: 401 });
    if (unsafe && !SessionStore.csrfMatches(session, ctx.get(csrfHeader) || undefined)) {
      logger.warn({ path: ctx.path }, 'admin request refused: missing or wrong CSRF header');
      throw new ConsulateError('csrf', `missing or wrong ${csrfHeader} header`, { status: 403 });
    }
    ctx.state.session = session;
    const refusal = await sessions.policy?.refusal({ method: ctx.method, path: ctx.path });
    if (refusal) throw new ConsulateError(refusal.code, refusal.message, { status: refusal.status });
    return next();
  });
  api.post('/session', async (ctx) => {
    // The socket address, never a forwarded header: app.proxy is off, so a client cannot pick its own bucket.
    const address = ctx.request.socket.remoteAddress ?? 'unknown';
    const wait = limit.retryAfter(address);
    if (wait > 0) {
      logger.warn({ address }, 'admin login refused: too many failed attempts');
      ctx.set('Retry-After', String(wait));
      throw new ConsulateError('rate_limited', `too many failed logins from this address; try again in ${wait} s`, { status: 429 });
    }
    const body = parseBody(anyLoginRequest, ctx.request.body);
    let session: Session | undefined;
    if ('token' in body) {
      session = sessions.redeemLoginToken(body.token);
      if (!session) {
        limit.fail(address);
        logger.warn({ address }, 'admin login refused: wrong or used token');
        throw new ConsulateError('token_invalid', 'the login token is wrong, expired or already used; restart the service for a new one', { status: 401 });
      }
    } else {
      const ok = await sessions.policy?.checkPassword(body.password);
      if (ok === undefined) {
        limit.fail(address);
        throw new ConsulateError('password_not_set', 'no admin password is set yet; open the login link printed at start and set one in the GUI', {
          status: 401,
        });
      }
      if (!ok) {
        limit.fail(address);
        logger.warn({ address }, 'admin login refused: wrong password');
        throw new ConsulateError('password_invalid', 'wrong admin password', { status: 401 });
      }
      session = sessions.create();
      session.via = 'password';
    }
    limit.succeed(address);
    await sessions.policy?.loggedIn?.('token' in body ? 'token' : 'password', address);
    ctx.cookies.set(sessionCookie, session.id, { httpOnly: true, sameSite: 'strict', secure: false, overwrite: true });
    ctx.body = { csrf: session.csrf, ...(session.via ? { via: session.via } : {}) } satisfies SessionResponse;
  });
  api.get('/session', (ctx) => {
    const session = ctx.state.session as Session;
    ctx.body = { csrf: session.csrf, ...(session.via ? { via: session.via } : {}) } satisfies SessionResponse;
  });
  api.delete('/session', (ctx) => {
    sessions.destroy((ctx.state.session as Session).id);
    ctx.cookies.set(sessionCookie, '', { httpOnly: true, sameSite: 'strict', maxAge: 0 });
    ctx.status = 204;
  });
  for (const add of options.routes ?? []) add(api);
  api.all('/{*rest}', () => {
    throw new ConsulateError('not_found', 'no such admin API endpoint', { status: 404 });
  });

  app.use(router.routes()).use(router.allowedMethods());
  app.use(api.routes()).use(api.allowedMethods());

  const rendererDir = options.rendererDir ?? defaultRendererDir();
  app.use(serve(rendererDir, { index: 'index.html', maxage: 0 }));
  app.use((ctx) => {
    if (ctx.method !== 'GET' || ctx.body !== undefined) return;
    const index = join(rendererDir, 'index.html');
    if (existsSync(index)) {
      // Client-side routes (/peers, /certificates…) all load the single-page app.
      ctx.type = 'html';
      ctx.body = createReadStream(index);
    } else {
      ctx.type = 'text/plain';
      ctx.body = 'The GUI is not built: run `npm run build`.';
    }
  });

  const server = createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError('admin', options.host, options.port, error)));
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  allowed = new Set(
    [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${hostForUrl}:${port}`, ...(options.allowedHosts ?? [])].map((h) => h.toLowerCase()),
  );
  return {
    server,
    port,
    url: `http://${hostForUrl}:${port}`,
    close: () => {
      closing.abort();
      return closeServer(server);
    },
  };
}

export function listenError(listener: string, host: string, port: number, error: NodeJS.ErrnoException): Error {
  if (error.code === 'EADDRINUSE')
    return new ConsulateError('port_in_use', `${listener} listener: ${host}:${port} is already in use by another process`, { cause: error });
  if (error.code === 'EADDRNOTAVAIL')
    return new ConsulateError('address_unavailable', `${listener} listener: address ${host} does not exist on this machine`, { cause: error });
  if (error.code === 'EACCES')
    return new ConsulateError('port_in_use', `${listener} listener: no permission to listen on ${host}:${port} (ports below 1024 need privileges)`, {
      cause: error,
    });
  return error;
}

/** Stops accepting, lets in-flight requests finish, then cuts idle keep-alive sockets. */
export function closeServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
