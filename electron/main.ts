import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, Notification, safeStorage, session, shell, Tray, utilityProcess } from 'electron';
import type { MenuItemConstructorOptions, NativeImage, Session } from 'electron';
import Store from 'electron-store';
import { autostartExecutable, hiddenFlag, linuxAutostartEntry, linuxAutostartFile } from './autostart.js';
import type { IpcHandlers, SecretProtection, ShellInfo, ShellSettings } from './contract.js';
import { registerIpcHandlers } from './ipc.js';
import { RotatingLog } from './rotating-log.js';
import { kekEnvVar, loadOrCreateKek } from './secrets.js';
import { notificationFor, OpenProblems, parseServiceEvent, SseParser, trayStatus, type TrayColour } from './service-events.js';
import { applySettingsPatch, openSettings, parseSettingsPatch, type SettingsStore, type SettingsStoreConfig } from './settings.js';
import { backoffDelay, forkSpawner, Supervisor, type ServiceChild, type SpawnService } from './supervisor.js';
import {
  buildContentSecurityPolicy,
  createWindowOptions,
  decideWindowOpen,
  httpOrigin,
  isAllowedNavigation,
  isAllowedRequest,
  isPermissionAllowed,
} from './window-options.js';

/*
 * Electron main process: lifecycle, window, tray, notifications, secrets and settings.
 * Decisions live in the plain modules imported above (tested under Node); this file only
 * connects them to Electron's APIs. docs/desktop.md describes the security design.
 */

const here = fileURLToPath(new URL('.', import.meta.url));

// Must happen before 'ready': every renderer, including ones we did not plan for, is sandboxed.
app.enableSandbox();

const paths = {
  /** The service ships outside the asar (electron-builder extraResources), so it runs as plain files. */
  serviceEntry: app.isPackaged ? join(process.resourcesPath, 'service', 'bin', 'consulate.js') : join(app.getAppPath(), 'bin', 'consulate.js'),
  icons: app.isPackaged ? join(process.resourcesPath, 'icons') : join(app.getAppPath(), 'forge-assets'),
  preload: join(here, 'preload.cjs'),
  dataDir: join(app.getPath('userData'), 'data'),
  logsDir: app.getPath('logs'),
  kekFile: join(app.getPath('userData'), 'service-kek.bin'),
};

let window: BrowserWindow | undefined;
let tray: Tray | undefined;
let quitting = false;
let loginToken: string | null = null;
let settingsNotice: string | undefined;
let protection: SecretProtection = { protected: false, backend: 'unknown', message: 'Not determined yet.' };
let settings: SettingsStore;
/** Set when the service must not be started (its key cannot be unlocked); shown instead of the status. */
let startBlocked: string | undefined;
const problems = new OpenProblems();
const shellLog = new RotatingLog({ file: join(paths.logsDir, 'shell.log'), maxBytes: 1024 * 1024, files: 3 });

function log(message: string): void {
  shellLog.write(`${JSON.stringify({ time: Date.now(), source: 'shell', msg: message })}\n`);
}

/** utilityProcess keeps the service inside Electron's process model; the adapter gives it the supervisor's interface. */
const utilitySpawner: SpawnService = ({ modulePath, args, env }): ServiceChild => {
  const child = utilityProcess.fork(modulePath, args, { env, stdio: 'pipe', serviceName: 'Consulate service' });
  let exited = false;
  return {
    get pid() {
      return child.pid;
    },
    stdout: child.stdout,
    stderr: child.stderr,
    send(message) {
      if (!exited) child.postMessage(message);
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onExit(listener) {
      child.once('exit', (code) => {
        exited = true;
        listener({ code, signal: null });
      });
    },
    terminate() {
      // utilityProcess.kill() is SIGTERM on POSIX (graceful for the service) but a hard
      // TerminateProcess on Windows, where the IPC shutdown message does the polite part.
      if (!exited && process.platform !== 'win32') child.kill();
    },
    kill() {
      if (exited) return;
      if (process.platform !== 'win32' && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      else child.kill();
    },
  };
};

function adminOrigin(): string | undefined {
  const url = supervisor?.readyInfo?.adminUrl;
  return url ? httpOrigin(url) : undefined;
}

let supervisor: Supervisor | undefined;

function createSupervisor(env: Record<string, string | undefined>): Supervisor {
  mkdirSync(paths.dataDir, { recursive: true, mode: 0o700 });
  return new Supervisor({
    // Unpackaged (development) runs use the system Node so the repository's native
    // modules, built for Node rather than Electron, load.
    spawn: app.isPackaged ? utilitySpawner : forkSpawner({ execPath: process.env['CONSULATE_DEV_NODE'] ?? 'node' }),
    modulePath: paths.serviceEntry,
    args: ['serve', '--data-dir', paths.dataDir],
    env: { ...process.env, ...env, CONSULATE_LOG_FORMAT: 'json' },
    log: new RotatingLog({ file: join(paths.logsDir, 'service.log') }),
  });
}

function hardenSession(target: Session): void {
  target.setPermissionRequestHandler((_contents, permission, callback, details) => {
    const allowed = isPermissionAllowed(permission, details.requestingUrl, adminOrigin());
    if (!allowed) log(`permission refused: ${permission}`);
    callback(allowed);
  });
  target.setPermissionCheckHandler((_contents, permission, requestingOrigin) => isPermissionAllowed(permission, requestingOrigin, adminOrigin()));
  target.webRequest.onBeforeRequest((details, callback) => {
    const allowed = isAllowedRequest(details.url, adminOrigin());
    if (!allowed) log(`request cancelled: ${httpOrigin(details.url) ?? details.url.split(':')[0]}`);
    callback({ cancel: !allowed });
  });
  target.webRequest.onHeadersReceived((details, callback) => {
    const origin = adminOrigin();
    if (!origin) return callback({ cancel: true });
    // Added next to the service's own policy: both are enforced, so neither can loosen the other.
    const existing = details.responseHeaders?.['Content-Security-Policy'] ?? details.responseHeaders?.['content-security-policy'] ?? [];
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [...existing, buildContentSecurityPolicy(origin)] } });
  });
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (isAllowedNavigation(url, adminOrigin())) return;
    event.preventDefault();
    log(`navigation blocked to ${httpOrigin(url) ?? 'a non-http URL'}`);
  });
  contents.on('will-redirect', (event, url) => {
    if (isAllowedNavigation(url, adminOrigin())) return;
    event.preventDefault();
    log(`redirect blocked to ${httpOrigin(url) ?? 'a non-http URL'}`);
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('webview blocked');
  });
  contents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternally) void shell.openExternal(decision.openExternally);
    else log(`new window refused for ${httpOrigin(url) ?? 'a non-http URL'}`);
    return { action: 'deny' };
  });
});

function showWindow(): void {
  const ready = supervisor?.readyInfo;
  if (!ready) {
    tray?.popUpContextMenu();
    return;
  }
  if (!window || window.isDestroyed()) {
    window = new BrowserWindow(createWindowOptions({ preloadPath: paths.preload, icon: join(paths.icons, 'icon.png') }));
    window.once('ready-to-show', () => window?.show());
    window.on('close', (event) => {
      if (quitting || !settings.store.closeToTray) return;
      event.preventDefault();
      window?.hide();
    });
    void window.loadURL(`${ready.adminUrl}/`);
    return;
  }
  window.show();
  window.focus();
}

const trayImages = new Map<TrayColour, NativeImage>();
function trayImage(colour: TrayColour): NativeImage {
  let image = trayImages.get(colour);
  if (!image) {
    image = nativeImage.createFromPath(join(paths.icons, 'tray', `tray-${colour}.png`));
    trayImages.set(colour, image);
  }
  return image;
}

function refreshTray(): void {
  if (!tray || !supervisor) return;
  const status = supervisor.status;
  const { colour, tooltip } = trayStatus(status.state, problems.summary());
  tray.setImage(trayImage(colour));
  tray.setToolTip(tooltip);
  const running = status.state === 'ready' || status.state === 'starting';
  const template: MenuItemConstructorOptions[] = [
    { label: 'Open Consulate', enabled: status.state === 'ready', click: showWindow },
    { type: 'separator' },
    { label: startBlocked ?? status.message, enabled: false },
    ...(protection.protected ? [] : [{ label: 'Service key not protected by an OS key store', enabled: false }]),
    { type: 'separator' },
    { label: 'Start service', enabled: !startBlocked && !running && status.state !== 'stopping', click: () => supervisor?.start() },
    { label: 'Stop service', enabled: running, click: () => void supervisor?.stop() },
    { label: 'Restart service', enabled: !startBlocked && status.state !== 'stopping', click: () => void supervisor?.restart() },
    { type: 'separator' },
    { label: 'Open data folder', click: () => void shell.openPath(paths.dataDir) },
    { label: 'Open logs', click: () => void shell.openPath(paths.logsDir) },
    { type: 'separator' },
    { label: 'Launch at login', type: 'checkbox', checked: settings.store.launchAtLogin, click: (item) => updateSettings({ launchAtLogin: item.checked }) },
    { type: 'separator' },
    { label: 'Quit Consulate', click: () => app.quit() },
  ];
  tray.setContextMenu(Menu.buildFromTemplate(template));
}

function applyLaunchAtLogin(enabled: boolean): void {
  if (process.platform === 'linux') {
    const file = linuxAutostartFile(process.env['XDG_CONFIG_HOME'] || join(homedir(), '.config'));
    if (enabled) {
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, linuxAutostartEntry(autostartExecutable(process.execPath, process.env)));
    } else {
      rmSync(file, { force: true });
    }
    return;
  }
  app.setLoginItemSettings({ openAtLogin: enabled, args: [hiddenFlag] });
}

function updateSettings(patch: unknown): ShellSettings {
  const next = applySettingsPatch(settings.store, parseSettingsPatch(patch));
  settings.set(next);
  applyLaunchAtLogin(next.launchAtLogin);
  refreshTray();
  return next;
}

/** Follows GET /api/events with the GUI's session cookie; reconnects while the service runs. */
function followServiceEvents(target: Session): () => void {
  let stopped = false;
  let attempt = 0;
  let controller: AbortController | undefined;
  const connect = async (): Promise<void> => {
    const ready = supervisor?.readyInfo;
    if (stopped || !ready) return;
    controller = new AbortController();
    try {
      const response = await target.fetch(`${ready.adminUrl}/api/events`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
      // 401 until the GUI has logged in with the token; retried below.
      if (response.ok && response.body) {
        attempt = 0;
        const parser = new SseParser();
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          for (const sse of parser.push(decoder.decode(chunk, { stream: true }))) {
            const event = parseServiceEvent(sse);
            if (!event) continue;
            problems.apply(event);
            const content = notificationFor(event, settings.store.notifications);
            if (content && Notification.isSupported()) new Notification({ title: content.title, body: content.body, urgency: content.urgency }).show();
            refreshTray();
          }
        }
      }
    } catch (error) {
      if (!stopped) log(`event stream: ${(error as Error).message}`);
    }
    if (stopped) return;
    attempt += 1;
    setTimeout(() => void connect(), backoffDelay(attempt, 2_000, 60_000));
  };
  void connect();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

function ipcHandlers(): IpcHandlers {
  return {
    'consulate:take-login-token': () => {
      const token = loginToken;
      loginToken = null;
      return token;
    },
    'consulate:get-shell-info': (): ShellInfo => ({
      shellVersion: app.getVersion(),
      platform: process.platform,
      secrets: protection,
      service: { state: supervisor?.status.state ?? 'idle', message: startBlocked ?? supervisor?.status.message ?? '' },
      ...(settingsNotice ? { settingsNotice } : {}),
    }),
    // Rebuilt field by field so store internals (electron-store's migration marker) stay in main.
    'consulate:get-settings': () => applySettingsPatch(settings.store, {}),
    'consulate:update-settings': (patch) => updateSettings(patch),
    'consulate:open-logs': async () => {
      await shell.openPath(paths.logsDir);
    },
    'consulate:open-data-folder': async () => {
      await shell.openPath(paths.dataDir);
    },
    'consulate:restart-service': () => (startBlocked ? undefined : supervisor?.restart()),
  };
}

async function start(): Promise<void> {
  const opened = openSettings({
    cwd: app.getPath('userData'),
    projectVersion: app.getVersion(),
    createStore: (config: SettingsStoreConfig) => new Store<ShellSettings>(config as unknown as ConstructorParameters<typeof Store<ShellSettings>>[0]),
  });
  settings = opened.store;
  settingsNotice = opened.notice;
  for (const backup of opened.migrationBackups) log(`settings backed up before migration: ${backup}`);
  if (settingsNotice) {
    log(settingsNotice);
    void dialog.showMessageBox({ type: 'warning', title: 'Consulate settings', message: 'Settings could not be read', detail: settingsNotice });
  }

  const kek = loadOrCreateKek({ file: paths.kekFile, serviceKeyFile: join(paths.dataDir, 'identity.kek'), safeStorage });
  protection = kek.protection;
  log(`service key: ${kek.kind}, ${protection.message}`);

  hardenSession(session.defaultSession);
  registerIpcHandlers(ipcMain, ipcHandlers(), { adminOrigin, log });

  supervisor = createSupervisor(kek.kind === 'keychain' ? { [kekEnvVar]: kek.kekB64 } : {});
  let stopEvents: (() => void) | undefined;
  supervisor.on('status', (status) => {
    log(`service ${status.state}: ${status.message}`);
    if (status.state !== 'ready') {
      stopEvents?.();
      stopEvents = undefined;
      problems.clear();
    }
    refreshTray();
  });
  supervisor.on('ready', (ready) => {
    // A new service process means a new one-time token; the GUI picks it up on reload.
    loginToken = ready.loginToken;
    stopEvents = followServiceEvents(session.defaultSession);
    if (window && !window.isDestroyed()) void window.loadURL(`${ready.adminUrl}/`);
    else if (!process.argv.includes(hiddenFlag)) showWindow();
  });

  tray = new Tray(trayImage('amber'));
  tray.on('click', showWindow);
  refreshTray();

  if (kek.kind === 'unavailable') {
    startBlocked = kek.message;
    refreshTray();
    log(kek.message);
    dialog.showErrorBox('Consulate cannot start the service', kek.message);
    return;
  }
  supervisor.start();
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', showWindow);
  // Closing the last window keeps the app (and the service) running in the tray.
  app.on('window-all-closed', () => undefined);
  app.on('activate', showWindow);
  app.on('before-quit', (event) => {
    quitting = true;
    const running = supervisor && !['stopped', 'idle', 'crash-loop'].includes(supervisor.status.state);
    if (!running) return;
    event.preventDefault();
    void supervisor?.stop().finally(() => app.quit());
  });
  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      log(`start failed: ${(error as Error).stack ?? String(error)}`);
      dialog.showErrorBox('Consulate', (error as Error).message);
      app.exit(1);
    });
}
