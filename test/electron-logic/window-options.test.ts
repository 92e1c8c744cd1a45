import { describe, expect, it } from 'vitest';
import {
  buildContentSecurityPolicy,
  createWindowOptions,
  decideWindowOpen,
  isAllowedNavigation,
  isAllowedRequest,
  isPermissionAllowed,
} from '../../electron/window-options.js';

const admin = 'http://127.0.0.1:8440';

describe('window options', () => {
  it('sets every hardening flag of the security checklist', () => {
    const options = createWindowOptions({ preloadPath: '/opt/Consulate/resources/app.asar/dist/electron/preload.cjs' });
    expect(options.webPreferences).toMatchObject({
      preload: '/opt/Consulate/resources/app.asar/dist/electron/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      enableBlinkFeatures: '',
      disableBlinkFeatures: 'Auxclick',
    });
    // Nothing that re-opens a hole may sneak in through a later edit.
    const prefs = options.webPreferences as Record<string, unknown>;
    for (const risky of ['additionalArguments', 'partition', 'session', 'javascript', 'plugins']) expect(prefs).not.toHaveProperty(risky);
    expect(options.show).toBe(false);
  });

  it('builds a strict CSP bound to the admin origin', () => {
    const csp = buildContentSecurityPolicy(`${admin}/some/path#token=secret`);
    const directives = new Map(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(directives.get('default-src')).toBe("'none'");
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('object-src')).toBe("'none'");
    expect(directives.get('base-uri')).toBe("'none'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(directives.get('connect-src')).toBe(`'self' ${admin}`);
    expect(csp).not.toContain('unsafe-eval');
    expect(directives.get('script-src')).not.toContain('unsafe-inline');
    expect(csp).not.toContain('secret');
    expect(() => buildContentSecurityPolicy('file:///etc/passwd')).toThrow(/not an http/);
  });
});

describe('navigation and request policy', () => {
  it('allows navigation only within the admin origin', () => {
    expect(isAllowedNavigation(`${admin}/peers`, admin)).toBe(true);
    expect(isAllowedNavigation(`${admin}/#token=abc`, `${admin}/`)).toBe(true);
    for (const url of [
      'http://127.0.0.1:8441/',
      'https://127.0.0.1:8440/',
      'http://localhost:8440/',
      'http://evil.example/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'not a url',
    ]) {
      expect(isAllowedNavigation(url, admin), url).toBe(false);
    }
    expect(isAllowedNavigation(`${admin}/`, undefined)).toBe(false);
  });

  it('lets the page load only from the admin origin and in-page schemes', () => {
    expect(isAllowedRequest(`${admin}/assets/index.js`, admin)).toBe(true);
    expect(isAllowedRequest('data:image/png;base64,AAAA', admin)).toBe(true);
    expect(isAllowedRequest('blob:http://127.0.0.1:8440/uuid', admin)).toBe(true);
    expect(isAllowedRequest('https://fonts.example/font.woff2', admin)).toBe(false);
    expect(isAllowedRequest('ws://127.0.0.1:9999/', admin)).toBe(false);
  });

  it('never opens a new window; plain https links go to the system browser', () => {
    expect(decideWindowOpen('https://docs.example/consulate')).toEqual({ action: 'deny', openExternally: 'https://docs.example/consulate' });
    for (const url of [
      'http://example.com/',
      'file:///C:/Windows/System32/calc.exe',
      'smb://host/share',
      'ms-msdt:/id',
      'https://user:pw@example.com/',
      'javascript:alert(1)',
      'garbage',
    ]) {
      expect(decideWindowOpen(url), url).toEqual({ action: 'deny' });
    }
  });

  it('denies every permission except clipboard writes from the admin GUI', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'pointerLock', 'hid', 'serial', 'usb']) {
      expect(isPermissionAllowed(permission, `${admin}/`, admin), permission).toBe(false);
    }
    expect(isPermissionAllowed('clipboard-sanitized-write', `${admin}/peers`, admin)).toBe(true);
    expect(isPermissionAllowed('clipboard-sanitized-write', 'http://evil.example/', admin)).toBe(false);
    expect(isPermissionAllowed('clipboard-sanitized-write', `${admin}/`, undefined)).toBe(false);
  });
});
