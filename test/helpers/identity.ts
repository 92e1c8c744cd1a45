import { IdentityStore, type IdentityKey } from '../../service/identity/identity.js';
import { resolveKek } from '../../service/identity/kek.js';
import { openStore } from '../../service/store/database.js';
import { createLogger } from '../../service/telemetry/logger.js';
import { tempDir } from './service-process.js';

/** A fresh identity key as an appliance makes its own (`consulate init`), in a data directory of its own. */
export async function newIdentity(): Promise<IdentityKey> {
  const dir = tempDir();
  const store = await openStore({ dataDir: dir, logger: createLogger({ level: 'silent' }) });
  try {
    return await new IdentityStore(store.db, resolveKek(dir, {})).create();
  } finally {
    await store.close();
  }
}
