import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Conf from 'conf';
import { afterEach, describe, expect, it } from 'vitest';
import type { ShellSettings } from '../../electron/contract.js';
import { autostartExecutable, linuxAutostartEntry } from '../../electron/autostart.js';
import { describeProtection, loadOrCreateKek, type SafeStorageLike } from '../../electron/secrets.js';
import {
  applySettingsPatch,
  openSettings,
  parseSettingsPatch,
  settingsDefaults,
  type SettingsStore,
  type SettingsStoreConfig,
} from '../../electron/settings.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'consulate-shell-'));
  dirs.push(dir);
  return dir;
}

// electron-store is `conf` plus Electron's default paths; the real class reads and writes here.
const createStore = (config: SettingsStoreConfig): SettingsStore =>
  new Conf<ShellSettings>({ ...config, configName: config.name } as never) as unknown as SettingsStore;
const fixedNow = () => new Date('2026-01-02T03:04:05.000Z');

describe('shell settings', () => {
  it('starts from documented defaults and persists changes', () => {
    const cwd = tempDir();
    const first = openSettings({ createStore, cwd, projectVersion: '0.1.0' });
    expect(first.notice).toBeUndefined();
    expect(first.store.store).toMatchObject(settingsDefaults);
    first.store.set(applySettingsPatch(first.store.store, parseSettingsPatch({ launchAtLogin: true, notifications: { peerDown: false } })));
    const second = openSettings({ createStore, cwd, projectVersion: '0.1.0' });
    expect(second.store.store).toMatchObject({
      launchAtLogin: true,
      closeToTray: true,
      notifications: { certificateExpiry: true, peerDown: false, keyChange: true },
    });
  });

  it('backs up a corrupt file, says so, and never deletes it', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'settings.json'), '{"launchAtLogin": tru');
    const opened = openSettings({ createStore, cwd, projectVersion: '0.1.0', now: fixedNow });
    const backup = join(cwd, 'settings.json.corrupt-2026-01-02T03-04-05-000Z');
    expect(readFileSync(backup, 'utf8')).toBe('{"launchAtLogin": tru');
    expect(opened.notice).toContain('could not be read');
    expect(opened.notice).toContain(backup);
    expect(opened.store.store.launchAtLogin).toBe(false);
  });

  it('treats a schema violation like corruption: backed up and reported, not silently reset', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'settings.json'), JSON.stringify({ launchAtLogin: 'yes please' }));
    const opened = openSettings({ createStore, cwd, projectVersion: '0.1.0', now: fixedNow });
    expect(opened.notice).toMatch(/schema violation/i);
    expect(readdirSync(cwd).filter((f) => f.includes('corrupt'))).toHaveLength(1);
  });

  it('fills in keys added by a newer version without touching the operator’s choices', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'settings.json'), JSON.stringify({ launchAtLogin: true, notifications: { peerDown: false } }));
    const opened = openSettings({ createStore, cwd, projectVersion: '0.1.0' });
    expect(opened.notice).toBeUndefined();
    expect(opened.store.store).toMatchObject({
      launchAtLogin: true,
      closeToTray: true,
      notifications: { peerDown: false, certificateExpiry: true, keyChange: true },
    });
  });

  it('backs up the file before each migration step', () => {
    const cwd = tempDir();
    openSettings({ createStore, cwd, projectVersion: '0.1.0', migrations: {} }).store.set({ launchAtLogin: true });
    const before = readFileSync(join(cwd, 'settings.json'), 'utf8');
    const migrations = { '0.2.0': (store: SettingsStore) => store.set({ closeToTray: false }) };
    const opened = openSettings({ createStore, cwd, projectVersion: '0.2.0', migrations, now: fixedNow });
    expect(opened.migrationBackups).toEqual([join(cwd, 'settings.json.before-0.2.0-2026-01-02T03-04-05-000Z.bak')]);
    expect(readFileSync(opened.migrationBackups[0] as string, 'utf8')).toBe(before);
    expect(opened.store.store).toMatchObject({ launchAtLogin: true, closeToTray: false });
  });

  it('refuses renderer patches with unknown keys or wrong types', () => {
    for (const bad of [
      null,
      [],
      'x',
      { launchAtLogin: 'true' },
      { autoUpdate: true },
      { notifications: { peerDown: 1 } },
      { notifications: { everything: true } },
      { notifications: [] },
    ]) {
      expect(() => parseSettingsPatch(bad), JSON.stringify(bad)).toThrow();
    }
    expect(parseSettingsPatch({ closeToTray: false, notifications: { keyChange: false } })).toEqual({
      closeToTray: false,
      notifications: { keyChange: false },
    });
  });
});

/** Stands in for Electron's safeStorage, which exists only inside Electron: a reversible transform plus the backend it claims. */
function safeStorage(backend: string | undefined, available = true): SafeStorageLike & { encrypted: number } {
  const store = {
    encrypted: 0,
    isEncryptionAvailable: () => available,
    encryptString: (text: string) => (store.encrypted++, Buffer.from(`sealed:${Buffer.from(text).toString('hex')}`)),
    decryptString: (data: Buffer) => {
      const text = data.toString();
      if (!text.startsWith('sealed:')) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return Buffer.from(text.slice(7), 'hex').toString();
    },
    ...(backend ? { getSelectedStorageBackend: () => backend } : {}),
  };
  return store;
}

describe('service key (KEK) through safeStorage', () => {
  it('says plainly that basic_text on Linux is not protected', () => {
    const basic = describeProtection('linux', safeStorage('basic_text'));
    expect(basic.protected).toBe(false);
    expect(basic.message).toContain('NOT protected');
    expect(describeProtection('linux', safeStorage('gnome_libsecret')).protected).toBe(true);
    expect(describeProtection('darwin', safeStorage(undefined)).backend).toBe('keychain');
    expect(describeProtection('win32', safeStorage(undefined)).backend).toBe('dpapi');
    expect(describeProtection('linux', safeStorage('kwallet5', false))).toMatchObject({ protected: false, backend: 'file' });
  });

  it('creates a 32-byte key once, stores it encrypted, and returns the same key next time', () => {
    const dir = tempDir();
    const storage = safeStorage('gnome_libsecret');
    const options = { file: join(dir, 'service-kek.bin'), serviceKeyFile: join(dir, 'data', 'identity.kek'), safeStorage: storage, platform: 'linux' as const };
    const first = loadOrCreateKek(options);
    expect(first.kind).toBe('keychain');
    if (first.kind !== 'keychain') return;
    expect(first.created).toBe(true);
    expect(Buffer.from(first.kekB64, 'base64')).toHaveLength(32);
    expect(readFileSync(options.file, 'utf8')).not.toContain(first.kekB64);
    expect(statSync(options.file).mode & 0o077).toBe(0);
    const second = loadOrCreateKek(options);
    expect(second).toMatchObject({ kind: 'keychain', kekB64: first.kekB64, created: false });
    expect(storage.encrypted).toBe(1);
  });

  it('keeps using the service key file when the service was set up without the keychain', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'identity.kek'), Buffer.alloc(32));
    const result = loadOrCreateKek({
      file: join(dir, 'service-kek.bin'),
      serviceKeyFile: join(dir, 'identity.kek'),
      safeStorage: safeStorage('gnome_libsecret'),
      platform: 'linux',
    });
    expect(result).toMatchObject({ kind: 'service-file', protection: { protected: false, backend: 'file' } });
    expect(existsSync(join(dir, 'service-kek.bin'))).toBe(false);
  });

  it('refuses to start rather than replace a key it cannot decrypt', () => {
    const dir = tempDir();
    const file = join(dir, 'service-kek.bin');
    writeFileSync(file, 'garbage');
    const result = loadOrCreateKek({ file, serviceKeyFile: join(dir, 'identity.kek'), safeStorage: safeStorage('gnome_libsecret'), platform: 'linux' });
    expect(result.kind).toBe('unavailable');
    expect(readFileSync(file, 'utf8')).toBe('garbage');
    const locked = loadOrCreateKek({ file, serviceKeyFile: join(dir, 'identity.kek'), safeStorage: safeStorage('gnome_libsecret', false), platform: 'linux' });
    expect(locked).toMatchObject({ kind: 'unavailable' });
  });
});

describe('launch at login on Linux', () => {
  it('writes an autostart entry that starts hidden in the tray and survives AppImage remounts', () => {
    expect(autostartExecutable('/tmp/.mount_ConsulXYZ/consulate', { APPIMAGE: '/home/op/Apps/Consulate.AppImage' })).toBe('/home/op/Apps/Consulate.AppImage');
    expect(autostartExecutable('/opt/Consulate/consulate', {})).toBe('/opt/Consulate/consulate');
    const entry = linuxAutostartEntry('/home/op/My Apps/Consulate.AppImage');
    expect(entry).toContain('Exec="/home/op/My Apps/Consulate.AppImage" --hidden\n');
    expect(entry.startsWith('[Desktop Entry]\nType=Application\n')).toBe(true);
  });
});
