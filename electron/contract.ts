/**
 * The one contract between the admin GUI (renderer) and the desktop shell. The preload
 * exposes `window.consulate` implementing ConsulateBridge; main.ts registers one handler
 * per channel through the guard in ipc.ts. In a browser (headless install) the object is
 * absent and the GUI must work without it.
 */

/** Name of the object on `window`. */
export const bridgeName = 'consulate';

/** Every IPC channel the renderer may use; anything else is refused and logged. */
export const ipcChannels = {
  takeLoginToken: 'consulate:take-login-token',
  getShellInfo: 'consulate:get-shell-info',
  getSettings: 'consulate:get-settings',
  updateSettings: 'consulate:update-settings',
  openLogs: 'consulate:open-logs',
  openDataFolder: 'consulate:open-data-folder',
  restartService: 'consulate:restart-service',
} as const;

export type IpcChannelMap = typeof ipcChannels;
export type IpcChannel = IpcChannelMap[keyof IpcChannelMap];

export type ServiceStateName = 'idle' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'crashed' | 'crash-loop';

/** How the service's key-encryption key is kept on this machine. */
export interface SecretProtection {
  /** True only when an OS facility (Keychain, DPAPI, a Linux keyring) protects the key. */
  protected: boolean;
  /** keychain | dpapi | gnome_libsecret | kwallet* | basic_text | unknown | file */
  backend: string;
  /** One sentence for the GUI, saying plainly when the key is not protected. */
  message: string;
}

export interface ShellInfo {
  shellVersion: string;
  platform: string;
  secrets: SecretProtection;
  service: { state: ServiceStateName; message: string };
  /** Set when shell settings had to be recovered at start-up (corrupt file backed up). */
  settingsNotice?: string;
}

export interface NotificationSettings {
  certificateExpiry: boolean;
  peerDown: boolean;
  keyChange: boolean;
}

export interface ShellSettings {
  launchAtLogin: boolean;
  /** Whether closing the window hides to the tray (true) or quits the app. */
  closeToTray: boolean;
  notifications: NotificationSettings;
}

/** What the renderer may change; validated in main before it is applied. */
export interface ShellSettingsPatch {
  launchAtLogin?: boolean;
  closeToTray?: boolean;
  notifications?: Partial<NotificationSettings>;
}

export interface ConsulateBridge {
  /** The service's one-time login token, handed out once per service start; null afterwards. */
  takeLoginToken(): Promise<string | null>;
  getShellInfo(): Promise<ShellInfo>;
  getSettings(): Promise<ShellSettings>;
  updateSettings(patch: ShellSettingsPatch): Promise<ShellSettings>;
  openLogs(): Promise<void>;
  openDataFolder(): Promise<void>;
  restartService(): Promise<void>;
}

/** Argument and result types per channel: main's handlers are typed by this. */
export interface IpcSignatures {
  'consulate:take-login-token': { args: []; result: string | null };
  'consulate:get-shell-info': { args: []; result: ShellInfo };
  'consulate:get-settings': { args: []; result: ShellSettings };
  'consulate:update-settings': { args: [patch: unknown]; result: ShellSettings };
  'consulate:open-logs': { args: []; result: void };
  'consulate:open-data-folder': { args: []; result: void };
  'consulate:restart-service': { args: []; result: void };
}

export type IpcHandlers = {
  [C in IpcChannel]: (...args: IpcSignatures[C]['args']) => IpcSignatures[C]['result'] | Promise<IpcSignatures[C]['result']>;
};
