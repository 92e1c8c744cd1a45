import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { SecretProtection } from './contract.js';

/**
 * The service's key-encryption key (KEK), kept by the OS through Electron's safeStorage
 * and handed to the service in CONSULATE_KEK_B64 at spawn. Plain module: safeStorage is
 * injected, so the decisions below are tested without Electron.
 *
 * Electron 40 only has the synchronous safeStorage API (no encryptStringAsync in its
 * type definitions); SafeStorageLike mirrors that.
 */

export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

export const kekEnvVar = 'CONSULATE_KEK_B64';

export function describeProtection(platform: NodeJS.Platform, safeStorage: SafeStorageLike): SecretProtection {
  if (!safeStorage.isEncryptionAvailable()) {
    return {
      protected: false,
      backend: 'file',
      message: 'No OS key store is available: the service keeps its key in a file in its data directory, protected only by file permissions.',
    };
  }
  if (platform === 'darwin') return { protected: true, backend: 'keychain', message: 'The service key is protected by the macOS Keychain.' };
  if (platform === 'win32') return { protected: true, backend: 'dpapi', message: 'The service key is protected by Windows (DPAPI) for this user account.' };
  const backend = safeStorage.getSelectedStorageBackend?.() ?? 'unknown';
  if (backend === 'basic_text' || backend === 'unknown') {
    return {
      protected: false,
      backend,
      message:
        'No desktop keyring (Secret Service or KWallet) was found, so the service key is stored with a fixed, publicly known key: it is NOT protected. Install and unlock a keyring (e.g. gnome-keyring), then restart Consulate.',
    };
  }
  return { protected: true, backend, message: `The service key is protected by the desktop keyring (${backend}).` };
}

export type KekResult =
  /** Pass kekB64 to the service in CONSULATE_KEK_B64. */
  | { kind: 'keychain'; kekB64: string; created: boolean; protection: SecretProtection }
  /** Pass nothing: the service uses the key file in its data directory. */
  | { kind: 'service-file'; protection: SecretProtection }
  /** Do not start the service: it could not unseal its identity. */
  | { kind: 'unavailable'; message: string; protection: SecretProtection };

export interface LoadKekOptions {
  /** Where the safeStorage-encrypted KEK lives (the shell's userData). */
  file: string;
  /** The service's own key file; if it exists the service already uses it and must keep doing so. */
  serviceKeyFile: string;
  safeStorage: SafeStorageLike;
  platform?: NodeJS.Platform;
  randomBytes?: (size: number) => Buffer;
}

export function loadOrCreateKek(options: LoadKekOptions): KekResult {
  const { file, safeStorage } = options;
  const protection = describeProtection(options.platform ?? process.platform, safeStorage);
  if (existsSync(file)) {
    if (!safeStorage.isEncryptionAvailable()) {
      return {
        kind: 'unavailable',
        protection,
        message: `The OS key store that holds the service key (${file}) is not available now; unlock it (log in to the desktop session or keyring) and restart Consulate.`,
      };
    }
    let kekB64: string;
    try {
      kekB64 = safeStorage.decryptString(readFileSync(file)).trim();
    } catch (error) {
      return {
        kind: 'unavailable',
        protection,
        message: `The service key in ${file} cannot be decrypted by the OS key store (${(error as Error).message}). It was not changed.`,
      };
    }
    if (Buffer.from(kekB64, 'base64').length !== 32) {
      return { kind: 'unavailable', protection, message: `The service key in ${file} is not a 32-byte key. It was not changed.` };
    }
    return { kind: 'keychain', kekB64, created: false, protection };
  }
  // An identity already sealed by the service's own key file stays with that file:
  // a new keychain key would make it impossible to unseal.
  if (!safeStorage.isEncryptionAvailable() || existsSync(options.serviceKeyFile))
    return { kind: 'service-file', protection: existsSync(options.serviceKeyFile) ? fileProtection(protection) : protection };
  const kekB64 = (options.randomBytes ?? nodeRandomBytes)(32).toString('base64');
  const temp = `${file}.tmp`;
  writeFileSync(temp, safeStorage.encryptString(kekB64), { mode: 0o600 });
  renameSync(temp, file);
  return { kind: 'keychain', kekB64, created: true, protection };
}

function fileProtection(keystore: SecretProtection): SecretProtection {
  return {
    protected: false,
    backend: 'file',
    message: `The service was set up with a key file in its data directory and keeps using it (protected by file permissions only).${keystore.protected ? '' : ` ${keystore.message}`}`,
  };
}
