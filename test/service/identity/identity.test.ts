import { statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdentityStore, fingerprint } from '../../../service/identity/identity.js';
import { resolveKek } from '../../../service/identity/kek.js';
import { openStore } from '../../../service/store/database.js';
import { createLogger } from '../../../service/telemetry/logger.js';
import { tempDir } from '../../helpers/service-process.js';

const logger = createLogger({ level: 'silent' });

describe('identity key', () => {
  it('is created once, sealed at rest, and unsealed with the same key file', async () => {
    const dataDir = tempDir();
    const store = await openStore({ dataDir, logger });
    const kek = resolveKek(dataDir, {});
    expect(kek.source).toBe('key-file');
    expect(statSync(join(dataDir, 'identity.kek')).mode & 0o777).toBe(0o600);
    const identities = new IdentityStore(store.db, kek);
    const created = await identities.create();
    await expect(identities.create()).rejects.toMatchObject({ code: 'identity_exists' });

    const row = await store.db.selectFrom('identity_keys').selectAll().executeTakeFirstOrThrow();
    // The secret never sits in the database in the clear.
    expect(row.sealedSecret).not.toContain(Buffer.from(created.secretKey).toString('base64url').slice(0, 20));
    const loaded = await new IdentityStore(store.db, resolveKek(dataDir, {})).active();
    expect(Buffer.from(loaded.secretKey).equals(Buffer.from(created.secretKey))).toBe(true);
    expect(loaded.fingerprint).toBe(created.fingerprint);
    await store.close();
  });

  it('refuses to unseal with another key and names the source', async () => {
    const dataDir = tempDir();
    const store = await openStore({ dataDir, logger });
    await new IdentityStore(store.db, resolveKek(dataDir, {})).create();
    const other = resolveKek(dataDir, { CONSULATE_KEY_PASSPHRASE: 'correct horse battery staple' });
    expect(other.source).toBe('passphrase');
    await expect(new IdentityStore(store.db, other).active()).rejects.toMatchObject({ code: 'kek_wrong', message: expect.stringContaining('passphrase') });
    await store.close();
  });

  it('refuses a key file readable by others', () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'identity.kek'), Buffer.alloc(32, 7).toString('base64'));
    chmodSync(join(dataDir, 'identity.kek'), 0o644);
    expect(() => resolveKek(dataDir, {})).toThrow(/readable by other users.*chmod 600/);
  });

  it('rotates: a new active key, the old one retired but kept', async () => {
    const dataDir = tempDir();
    const store = await openStore({ dataDir, logger });
    const identities = new IdentityStore(store.db, resolveKek(dataDir, {}));
    const first = await identities.create();
    const { previous, next } = await identities.rotate();
    expect(previous.id).toBe(first.id);
    expect(next.id).not.toBe(first.id);
    expect((await identities.active()).id).toBe(next.id);
    expect((await identities.history()).map((h) => h.status).sort()).toEqual(['active', 'retired']);
    await store.close();
  });

  it('has a fingerprint of six groups of four base32 characters that differs per key', () => {
    const a = fingerprint(new Uint8Array(32).fill(1));
    const b = fingerprint(new Uint8Array(32).fill(2));
    expect(a).toMatch(/^([a-z2-7]{4}-){5}[a-z2-7]{4}$/);
    expect(a).not.toBe(b);
  });
});
