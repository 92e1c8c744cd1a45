import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsMaterial } from './listener.js';

/**
 * Where the federation listener's certificate lives in the data directory. The
 * certificate tooling (service/certs) installs here; the listener reads from here.
 */
export function tlsPaths(dataDir: string): { dir: string; cert: string; key: string } {
  const dir = join(dataDir, 'tls');
  return { dir, cert: join(dir, 'federation.crt'), key: join(dir, 'federation.key') };
}

export function readTlsMaterial(dataDir: string): TlsMaterial | undefined {
  const paths = tlsPaths(dataDir);
  if (!existsSync(paths.cert) || !existsSync(paths.key)) return undefined;
  return { certChainPem: readFileSync(paths.cert, 'utf8'), keyPem: readFileSync(paths.key, 'utf8') };
}

/** Atomic replace of both files (temp + rename), the key readable by the owner only. */
export function writeTlsMaterial(dataDir: string, tls: TlsMaterial): void {
  const paths = tlsPaths(dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${paths.key}.tmp`, tls.keyPem, { mode: 0o600 });
  writeFileSync(`${paths.cert}.tmp`, tls.certChainPem, { mode: 0o644 });
  renameSync(`${paths.key}.tmp`, paths.key);
  renameSync(`${paths.cert}.tmp`, paths.cert);
}
