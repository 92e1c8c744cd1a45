import { randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsulateError } from '../errors.js';

/**
 * Where the key-encryption key (KEK) that seals the identity private key comes from.
 * Threat model and choices: docs/security.md.
 */
export type KekSource = 'shell-keychain' | 'passphrase' | 'key-file';

export interface Kek {
  key: Buffer;
  source: KekSource;
}

export const kekFileName = 'identity.kek';
const saltFileName = 'identity.salt';

/**
 * CONSULATE_KEK_B64 (handed over by the desktop shell from the OS keychain) wins, then
 * CONSULATE_KEY_PASSPHRASE (scrypt-stretched), then a 0600 key file in the data dir.
 */
export function resolveKek(dataDir: string, env: NodeJS.ProcessEnv = process.env, options: { create?: boolean } = {}): Kek {
  const fromShell = env['CONSULATE_KEK_B64'];
  if (fromShell) {
    const key = Buffer.from(fromShell, 'base64');
    if (key.length !== 32) throw new ConsulateError('kek_invalid', 'CONSULATE_KEK_B64 must be 32 bytes in base64');
    return { key, source: 'shell-keychain' };
  }
  const passphrase = env['CONSULATE_KEY_PASSPHRASE'];
  if (passphrase) {
    if (passphrase.length < 12) throw new ConsulateError('kek_invalid', 'CONSULATE_KEY_PASSPHRASE must be at least 12 characters');
    const saltPath = join(dataDir, saltFileName);
    if (!existsSync(saltPath)) writeFileSync(saltPath, randomBytes(16), { mode: 0o600 });
    const key = scryptSync(passphrase.normalize('NFKC'), readFileSync(saltPath), 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    return { key, source: 'passphrase' };
  }
  const path = join(dataDir, kekFileName);
  if (!existsSync(path)) {
    if (options.create === false) throw new ConsulateError('kek_unavailable', `key file ${path} is missing; the identity key cannot be unsealed`);
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  if (process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new ConsulateError('kek_insecure', `key file ${path} is readable by other users (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
    }
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConsulateError('kek_invalid', `key file ${path} does not hold a 32-byte key`);
  return { key, source: 'key-file' };
}

export function restrictKekFile(dataDir: string): void {
  const path = join(dataDir, kekFileName);
  if (existsSync(path)) chmodSync(path, 0o600);
}
