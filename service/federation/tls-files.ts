import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certStoreDir } from '../certs/local.js';
import { currentFilesSync } from '../certs/store.js';
import type { TlsMaterial } from './listener.js';

/**
 * Where the federation listener's certificate lives. Since the certificate store
 * (service/certs, `<data-dir>/certs`) exists, `tls/federation.crt|.key` are only read
 * once, to migrate a data directory from before it; the service then serves from the store.
 */
export function legacyTlsPaths(dataDir: string): { dir: string; cert: string; key: string } {
  const dir = join(dataDir, 'tls');
  return { dir, cert: join(dir, 'federation.crt'), key: join(dir, 'federation.key') };
}

/** The chain and key files currently served on the federation listener: the store's, else the legacy ones. */
export function tlsPaths(dataDir: string): { dir: string; cert: string; key: string } {
  const current = currentFilesSync(certStoreDir(dataDir), 'federation');
  return current ? { dir: current.dir, cert: current.chain, key: current.key } : legacyTlsPaths(dataDir);
}

export function readLegacyTlsMaterial(dataDir: string): TlsMaterial | undefined {
  const paths = legacyTlsPaths(dataDir);
  if (!existsSync(paths.cert) || !existsSync(paths.key)) return undefined;
  return { certChainPem: readFileSync(paths.cert, 'utf8'), keyPem: readFileSync(paths.key, 'utf8') };
}
