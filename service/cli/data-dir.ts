import { resolve } from 'node:path';
import envPaths from 'env-paths';

/** --data-dir, then CONSULATE_DATA_DIR, then the OS's per-user data directory. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env['CONSULATE_DATA_DIR'];
  if (chosen) return resolve(chosen);
  return envPaths('consulate', { suffix: '' }).data;
}
