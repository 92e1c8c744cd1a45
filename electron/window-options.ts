import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';

/**
 * Window hardening and navigation policy, as plain data and pure functions so they are
 * unit-tested without an Electron binary. main.ts only wires them to Electron's hooks.
 * Follows Electron's security checklist (docs/tutorial/security.md); docs/desktop.md
 * explains each choice.
 */

export interface WindowOptionsInput {
  /** Absolute path of the compiled preload script. */
  preloadPath: string;
  title?: string;
  width?: number;
  height?: number;
  /** Absolute path of the window icon (Linux and Windows; macOS uses the bundle icon). */
  icon?: string;
}

/** Every flag is spelled out, even where it equals Electron's default, so a default changing upstream cannot weaken us. */
export function hardenedWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
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
    // Middle-click (auxclick) can open links in a new window without a window.open call.
    disableBlinkFeatures: 'Auxclick',
    safeDialogs: true,
    spellcheck: false,
    // DevTools stay available: the window shows only our own GUI, and an operator
    // debugging a field install needs them more than an attacker with local access does.
    devTools: true,
  };
}

export function createWindowOptions(input: WindowOptionsInput): BrowserWindowConstructorOptions {
  return {
    title: input.title ?? 'Consulate',
    width: input.width ?? 1200,
    height: input.height ?? 800,
    minWidth: 720,
    minHeight: 480,
    // Shown once the first paint is ready, so the operator never sees a blank white frame.
    show: false,
    autoHideMenuBar: true,
    ...(input.icon ? { icon: input.icon } : {}),
    webPreferences: hardenedWebPreferences(input.preloadPath),
  };
}

/** The origin (scheme://host:port) of an http(s) URL, or undefined for anything else. */
export function httpOrigin(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  return parsed.origin;
}

/**
 * The Content-Security-Policy the shell adds to every response it loads. It is sent in
 * addition to the service's own header; a browser enforces both, so the stricter wins.
 * 'unsafe-inline' for styles only: the GUI's component library sets style attributes.
 */
export function buildContentSecurityPolicy(adminOrigin: string): string {
  const origin = httpOrigin(adminOrigin);
  if (!origin) throw new Error(`not an http(s) origin: ${adminOrigin}`);
  const directives: Array<[string, string]> = [
    ['default-src', "'none'"],
    ['script-src', "'self'"],
    ['style-src', "'self' 'unsafe-inline'"],
    ['img-src', "'self' data: blob:"],
    ['font-src', "'self' data:"],
    ['connect-src', `'self' ${origin}`],
    ['manifest-src', "'self'"],
    ['worker-src', "'none'"],
    ['frame-src', "'none'"],
    ['child-src', "'none'"],
    ['object-src', "'none'"],
    ['media-src', "'none'"],
    ['base-uri', "'none'"],
    ['form-action', "'self'"],
    ['frame-ancestors', "'none'"],
  ];
  return directives.map(([name, value]) => `${name} ${value}`).join('; ');
}

/** In-window navigation is allowed only within the admin GUI's own origin. */
export function isAllowedNavigation(url: string, adminOrigin: string | undefined): boolean {
  if (!adminOrigin) return false;
  const origin = httpOrigin(url);
  return origin !== undefined && origin === httpOrigin(adminOrigin);
}

/**
 * What the shell loads over the network: only the admin origin, plus the in-page schemes
 * a single-page app uses. Everything else (a stray tracker, a compromised dependency
 * phoning home) is cancelled.
 */
export function isAllowedRequest(url: string, adminOrigin: string | undefined): boolean {
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  if (url.startsWith('devtools://')) return true;
  return isAllowedNavigation(url, adminOrigin);
}

export type WindowOpenDecision = { action: 'deny'; openExternally?: string };

/**
 * New windows are never created. A plain https link (documentation, a peer's website)
 * opens in the system browser instead; every other scheme is dropped, since handing
 * file:, smb: or custom protocol URLs to the OS is a known code-execution path.
 */
export function decideWindowOpen(url: string): WindowOpenDecision {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { action: 'deny' };
  }
  if (parsed.protocol === 'https:' && parsed.username === '' && parsed.password === '') return { action: 'deny', openExternally: parsed.href };
  return { action: 'deny' };
}

/**
 * Permission policy: deny by default. The one exception is writing to the clipboard
 * from the admin GUI itself, which its "copy card / copy fingerprint" buttons need;
 * reading the clipboard, camera, microphone, notifications, geolocation, etc. are refused.
 */
export function isPermissionAllowed(permission: string, requestingUrl: string | undefined, adminOrigin: string | undefined): boolean {
  if (permission !== 'clipboard-sanitized-write') return false;
  return requestingUrl !== undefined && isAllowedNavigation(requestingUrl, adminOrigin);
}
