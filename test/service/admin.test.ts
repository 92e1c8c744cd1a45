import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Service } from '../../service/app.js';
import { validateConfig } from '../../service/config/load.js';
import { createLogger } from '../../service/telemetry/logger.js';
import { tempDir } from '../helpers/service-process.js';

// node's fetch refuses to set Host, so the DNS-rebinding test speaks raw HTTP.
function rawGet(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin API security', () => {
  let service: Service;
  let base: string;
  let cookie = '';
  let csrf = '';

  beforeAll(async () => {
    service = new Service({
      config: validateConfig({ domain: 'a.example', admin: { port: 0 }, home: { port: 0 } }),
      dataDir: tempDir(),
      logger: createLogger({ level: 'silent' }),
    });
    await service.start();
    base = service.adminUrl;
  });
  afterAll(() => service.stop());

  it('refuses API requests without a session', async () => {
    const response = await fetch(`${base}/api/status`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('refuses a wrong Host header (DNS rebinding) even on the GUI', async () => {
    expect((await rawGet(`${base}/api/status`, 'evil.example:8440')).status).toBe(421);
    const gui = await rawGet(`${base}/`, 'rebind.attacker.test');
    expect(gui.status).toBe(421);
    expect(gui.body).toContain('bad_host');
  });

  it('refuses a wrong login token, then exchanges the right one once for an HttpOnly SameSite=Strict session', async () => {
    const wrong = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'nope' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'token_invalid' } });

    const login = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: service.loginToken }),
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/consulate_session=[\w-]+/);
    expect(setCookie.toLowerCase()).toContain('httponly');
    expect(setCookie.toLowerCase()).toContain('samesite=strict');
    cookie = setCookie.split(';')[0] as string;
    csrf = ((await login.json()) as { csrf: string }).csrf;

    const again = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: service.loginToken }),
    });
    expect(again.status).toBe(401);

    const status = await fetch(`${base}/api/status`, { headers: { cookie } });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ domain: 'a.example', ready: false });
  });

  it('refuses a state change without the CSRF header, or from another site', async () => {
    const noHeader = await fetch(`${base}/api/session`, { method: 'DELETE', headers: { cookie } });
    expect(noHeader.status).toBe(403);
    expect(await noHeader.json()).toMatchObject({ error: { code: 'csrf' } });

    const crossSite = await fetch(`${base}/api/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-consulate-csrf': csrf, origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);

    // Both refusals left the session intact; a proper request ends it.
    expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(200);
    const logout = await fetch(`${base}/api/session`, { method: 'DELETE', headers: { cookie, 'x-consulate-csrf': csrf, origin: base } });
    expect(logout.status).toBe(204);
    expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(401);
  });

  it('answers unknown API paths with a stable code', async () => {
    const response = await fetch(`${base}/api/nothing-here`);
    expect(response.status).toBe(401);
  });
});

interface Client {
  base: string;
  cookie: string;
  csrf: string;
}

async function login(base: string, body: Record<string, string>): Promise<Client> {
  const response = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBe(200);
  return { base, cookie: (response.headers.get('set-cookie') ?? '').split(';')[0] as string, csrf: ((await response.json()) as { csrf: string }).csrf };
}

function call(client: Client, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${client.base}${path}`, {
    method,
    headers: {
      cookie: client.cookie,
      'x-consulate-csrf': client.csrf,
      origin: client.base,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function tryPassword(base: string, password: string): Promise<Response> {
  return fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
}

describe('admin password, login rate limit and audit', () => {
  let service: Service;
  let base: string;
  let admin: Client;

  beforeAll(async () => {
    service = new Service({
      config: validateConfig({ domain: 'pw.example', admin: { port: 0 }, home: { port: 0 } }),
      dataDir: tempDir(),
      logger: createLogger({ level: 'silent' }),
    });
    await service.start();
    base = service.adminUrl;
    admin = await login(base, { token: service.loginToken });
  });
  afterAll(() => service.stop());

  it('tells the login page which appliance this is, without a session, and refuses password login before one is set', async () => {
    const info = await fetch(`${base}/api/login-info`);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({
      domain: 'pw.example',
      passwordSet: false,
      passwordRequired: false,
      fingerprint: expect.stringMatching(/^([a-z2-7]{4}-){5}[a-z2-7]{4}$/),
    });
    const refused = await tryPassword(base, 'anything at all');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: 'password_not_set' } });
  });

  it('sets a password (scrypt hash in the store, never the password), then logs in with it', async () => {
    const short = await call(admin, 'POST', '/api/password', { password: 'short' });
    expect(short.status).toBe(400);
    expect(await short.json()).toMatchObject({ error: { code: 'bad_request' } });
    expect((await call(admin, 'POST', '/api/password', { password: 'correct horse battery' })).status).toBe(204);

    const row = await service.store.db.selectFrom('meta').select('value').where('key', '=', 'admin_password').executeTakeFirstOrThrow();
    expect(row.value).toMatch(/^scrypt\$32768\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(row.value).not.toContain('correct horse');

    const wrong = await tryPassword(base, 'wrong horse battery');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'password_invalid' } });
    const second = await login(base, { password: 'correct horse battery' });
    expect((await call(second, 'GET', '/api/status')).status).toBe(200);

    // Changing it needs the current password.
    const noCurrent = await call(second, 'POST', '/api/password', { password: 'another long password' });
    expect(noCurrent.status).toBe(401);
    expect((await call(second, 'POST', '/api/password', { password: 'another long password', current: 'correct horse battery' })).status).toBe(204);

    // A forgotten password is reset from a session opened with the one-time token (local log access).
    expect((await call(admin, 'POST', '/api/password', { password: 'reset with the token' })).status).toBe(204);
    expect((await tryPassword(base, 'reset with the token')).status).toBe(200);
  });

  it('records logins and password changes in the hash-chained audit trail', async () => {
    const response = await call(admin, 'GET', '/api/audit');
    expect(response.status).toBe(200);
    const audit = (await response.json()) as { entries: Array<{ action: string; actor: string }>; chain: { intact: boolean; checked: number } };
    expect(audit.chain).toMatchObject({ intact: true });
    expect(audit.chain.checked).toBeGreaterThanOrEqual(4);
    const actions = audit.entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['admin.login', 'admin.password_set', 'admin.password_change']));
    expect(audit.entries.find((e) => e.action === 'admin.login')?.actor).toMatch(/^admin \((login token|password), /);
  });

  it('streams live status over server-sent events', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/api/events`, { headers: { cookie: admin.cookie, accept: 'text/event-stream' }, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const data = JSON.parse(/event: status\ndata: (.*)\n/.exec(text)?.[1] ?? '{}') as {
      status: { domain: string };
      listeners: Array<{ name: string; state: string }>;
    };
    expect(data.status.domain).toBe('pw.example');
    expect(data.listeners.find((l) => l.name === 'federation')?.state).toBe('down');
  });

  it('limits failed logins per address: the 6th within a minute gets 429 rate_limited, even with the right password', async () => {
    for (let i = 0; i < 5; i += 1) expect((await tryPassword(base, `guess number ${i}`)).status).toBe(401);
    const limited = await tryPassword(base, 'another long password');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
  });
});

describe('first-run setup and a listener beyond loopback', () => {
  it('refuses peer changes with setup_required until the wizard is finished, then lets them through', async () => {
    const dataDir = tempDir();
    const service = new Service({ config: validateConfig({ admin: { port: 0 }, home: { port: 0 } }), dataDir, logger: createLogger({ level: 'silent' }) });
    await service.start();
    try {
      const admin = await login(service.adminUrl, { token: service.loginToken });
      const setup = (await (await call(admin, 'GET', '/api/setup')).json()) as {
        complete: boolean;
        steps: { domain: { done: boolean }; identity: { done: boolean } };
      };
      expect(setup).toMatchObject({ complete: false, steps: { domain: { done: false }, identity: { done: true } } });

      const early = await call(admin, 'POST', '/api/peers/import', { card: 'x', confirmFingerprint: 'x' });
      expect(early.status).toBe(409);
      expect(await early.json()).toMatchObject({ error: { code: 'setup_required' } });
      const tooSoon = await call(admin, 'POST', '/api/setup/complete', {});
      expect(await tooSoon.json()).toMatchObject({ error: { code: 'setup_incomplete' } });

      const bad = await call(admin, 'PUT', '/api/settings', { domain: 'not a domain' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'config_invalid' } });
      const saved = await call(admin, 'PUT', '/api/settings', { domain: 'fresh.example', federation: { port: 9443 } });
      expect(saved.status).toBe(200);
      expect(await saved.json()).toMatchObject({
        restartRequired: true,
        running: { domain: 'consulate.local' },
        saved: { domain: 'fresh.example', federation: { port: 9443 } },
      });
      expect(JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8'))).toMatchObject({ domain: 'fresh.example', federation: { port: 9443 } });

      expect((await call(admin, 'POST', '/api/setup/complete', {})).status).toBe(204);
      const after = await call(admin, 'POST', '/api/peers/import', { card: 'x', confirmFingerprint: 'x' });
      expect(await after.json()).toMatchObject({ error: { code: 'card_malformed' } });
    } finally {
      await service.stop();
    }
  });

  it('requires a password before anything else when the admin listener is not on loopback', async () => {
    const service = new Service({
      config: validateConfig({ domain: 'open.example', admin: { host: '0.0.0.0', port: 0 }, home: { port: 0 } }),
      dataDir: tempDir(),
      logger: createLogger({ level: 'silent' }),
    });
    await service.start();
    try {
      const admin = await login(service.adminUrl, { token: service.loginToken });
      const peers = await call(admin, 'GET', '/api/peers');
      expect(peers.status).toBe(403);
      expect(await peers.json()).toMatchObject({ error: { code: 'password_required' } });
      expect((await call(admin, 'POST', '/api/password', { password: 'a long admin password' })).status).toBe(204);
      expect((await call(admin, 'GET', '/api/peers')).status).toBe(200);
    } finally {
      await service.stop();
    }
  });
});
