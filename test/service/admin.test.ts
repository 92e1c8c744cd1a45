import { request } from 'node:http';
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
      config: validateConfig({ domain: 'a.example', admin: { port: 0 } }),
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
    const wrong = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope' }) });
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
