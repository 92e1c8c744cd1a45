import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { NotificationSettings, ShellSettings, ShellSettingsPatch } from './contract.js';

/**
 * Shell settings: schema, defaults, migrations and corrupt-file recovery. The store
 * class is injected (electron-store in the app, its base class `conf` in tests), so the
 * behaviour an operator relies on — nothing is ever silently reset — is tested for real.
 */

export const settingsDefaults: ShellSettings = {
  launchAtLogin: false,
  closeToTray: true,
  notifications: { certificateExpiry: true, peerDown: true, keyChange: true },
};

const booleanWithDefault = (value: boolean) => ({ type: 'boolean', default: value });

/** JSON schema per top-level key, in the shape electron-store/conf take. */
export const settingsSchema = {
  launchAtLogin: booleanWithDefault(settingsDefaults.launchAtLogin),
  closeToTray: booleanWithDefault(settingsDefaults.closeToTray),
  notifications: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      certificateExpiry: booleanWithDefault(true),
      peerDown: booleanWithDefault(true),
      keyChange: booleanWithDefault(true),
    },
  },
} as const;

export interface SettingsStore {
  readonly path: string;
  readonly store: ShellSettings;
  set(values: Partial<ShellSettings>): void;
}

export interface MigrationContext {
  fromVersion: string;
  toVersion: string;
}

export type SettingsMigration = (store: SettingsStore) => void;

/**
 * Keyed by the app version that introduced the change (semver, as electron-store runs
 * them). Empty while the first settings layout is the only one; the backup hook below
 * already runs before any future entry.
 */
export const settingsMigrations: Record<string, SettingsMigration> = {};

export interface SettingsStoreConfig {
  name: string;
  cwd: string;
  projectVersion: string;
  defaults: ShellSettings;
  schema: typeof settingsSchema;
  migrations: Record<string, SettingsMigration>;
  beforeEachMigration: (store: { path: string }, context: MigrationContext) => void;
  /** Never true: an unreadable file is backed up and reported instead (see openSettings). */
  clearInvalidConfig: false;
}

export type SettingsStoreFactory = (config: SettingsStoreConfig) => SettingsStore;

export interface OpenSettingsOptions {
  createStore: SettingsStoreFactory;
  /** Directory of the settings file (the app's userData directory). */
  cwd: string;
  projectVersion: string;
  name?: string;
  migrations?: Record<string, SettingsMigration>;
  now?: () => Date;
}

export interface OpenedSettings {
  store: SettingsStore;
  /** Set when the file could not be used and was moved aside; show it to the operator. */
  notice?: string;
  /** Backups written by migrations during this start. */
  migrationBackups: string[];
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

export function openSettings(options: OpenSettingsOptions): OpenedSettings {
  const name = options.name ?? 'settings';
  const now = options.now ?? (() => new Date());
  const file = join(options.cwd, `${name}.json`);
  const migrationBackups: string[] = [];
  const config: SettingsStoreConfig = {
    name,
    cwd: options.cwd,
    projectVersion: options.projectVersion,
    defaults: settingsDefaults,
    schema: settingsSchema,
    migrations: options.migrations ?? settingsMigrations,
    // Back up before every step, so a migration bug never costs the operator their settings.
    beforeEachMigration: (store, context) => {
      if (!existsSync(store.path)) return;
      const backup = `${store.path}.before-${context.toVersion}-${stamp(now())}.bak`;
      copyFileSync(store.path, backup);
      migrationBackups.push(backup);
    },
    clearInvalidConfig: false,
  };
  try {
    return { store: options.createStore(config), migrationBackups };
  } catch (error) {
    if (!existsSync(file)) throw error;
    const backup = `${file}.corrupt-${stamp(now())}`;
    renameSync(file, backup);
    const reason = (error as Error).message.split('\n')[0] ?? 'unreadable';
    const notice = `Shell settings in ${file} could not be read (${reason}). The file was kept as ${backup} and default settings are in use.`;
    return { store: options.createStore(config), notice, migrationBackups };
  }
}

export class SettingsPatchError extends Error {
  readonly code = 'settings_invalid';
}

const notificationKeys: ReadonlyArray<keyof NotificationSettings> = ['certificateExpiry', 'peerDown', 'keyChange'];

/** Validates a patch from the renderer; anything unexpected is refused, never ignored. */
export function parseSettingsPatch(value: unknown): ShellSettingsPatch {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SettingsPatchError('settings patch must be an object');
  const patch: ShellSettingsPatch = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key === 'launchAtLogin' || key === 'closeToTray') {
      if (typeof entry !== 'boolean') throw new SettingsPatchError(`${key} must be true or false`);
      patch[key] = entry;
    } else if (key === 'notifications') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SettingsPatchError('notifications must be an object');
      const notifications: Partial<NotificationSettings> = {};
      for (const [name, flag] of Object.entries(entry)) {
        if (!notificationKeys.includes(name as keyof NotificationSettings)) throw new SettingsPatchError(`unknown setting notifications.${name}`);
        if (typeof flag !== 'boolean') throw new SettingsPatchError(`notifications.${name} must be true or false`);
        notifications[name as keyof NotificationSettings] = flag;
      }
      patch.notifications = notifications;
    } else {
      throw new SettingsPatchError(`unknown setting ${key}`);
    }
  }
  return patch;
}

export function applySettingsPatch(current: ShellSettings, patch: ShellSettingsPatch): ShellSettings {
  return {
    launchAtLogin: patch.launchAtLogin ?? current.launchAtLogin,
    closeToTray: patch.closeToTray ?? current.closeToTray,
    notifications: { ...current.notifications, ...patch.notifications },
  };
}
