import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CertError, CertStore, createPrivateCa, issueServerCertificate, type PrivateCa } from '../../../service/certs/index.js';

const hostnames = ['fed.example.org', 'files.example.org'];
const day = 86_400_000;

let ca: PrivateCa;
const dirs: string[] = [];

beforeAll(async () => {
  ca = await createPrivateCa({ commonName: 'Store Test CA' });
});

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'consulate-certstore-'));
  dirs.push(dir);
  return join(dir, 'certs');
}

async function material(names = hostnames, validityDays?: number): Promise<{ certChainPem: string; keyPem: string }> {
  const issued = await issueServerCertificate({ ca, hostnames: names, validityDays });
  return { certChainPem: issued.chainPem, keyPem: issued.keyPem as string };
}

function newStore(dir: string, extra: Partial<ConstructorParameters<typeof CertStore>[0]> = {}): CertStore {
  return new CertStore({ dir, policy: () => ({ hostnames, trustAnchors: [ca.certPem] }), ...extra });
}

describe('CertStore', () => {
  it('installs a valid certificate with a 0600 key file and atomic files only', async () => {
    const dir = storeDir();
    const store = newStore(dir);
    expect(await store.current('federation')).toBeUndefined();
    const input = await material();
    const { installed, report } = await store.install('federation', input);
    expect(report.summary.ok).toBe(true);
    const current = await store.current('federation');
    expect(current?.id).toBe(installed.id);
    expect(current?.certChainPem).toBe(input.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0]);
    expect(current?.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(current?.info.sans).toEqual(hostnames);
    const generation = join(dir, 'federation', installed.id);
    expect(statSync(join(generation, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'federation')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'federation')).sort()).toEqual([installed.id, 'state.json'].sort());
    expect(readdirSync(generation).sort()).toEqual(['chain.pem', 'key.pem', 'meta.json']);
    expect(await store.current('fileProxy')).toBeUndefined();
  });

  it('refuses a certificate that fails validation and leaves the one in use untouched', async () => {
    const dir = storeDir();
    const store = newStore(dir);
    const good = await store.install('federation', await material());
    const before = readFileSync(join(dir, 'federation', 'state.json'), 'utf8');
    const error = await store.install('federation', await material(['other.example.net'])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CertError);
    expect((error as CertError).code).toBe('hostname_mismatch');
    expect((error as CertError).details?.checks).toBeInstanceOf(Array);
    const mismatched = await material();
    await expect(store.install('federation', { ...mismatched, keyPem: (await material()).keyPem })).rejects.toMatchObject({ code: 'key_mismatch' });
    expect(readFileSync(join(dir, 'federation', 'state.json'), 'utf8')).toBe(before);
    expect((await store.current('federation'))?.id).toBe(good.installed.id);
    expect(readdirSync(join(dir, 'federation'))).toHaveLength(2);
  });

  it('keeps the previous certificate and rolls back to it, and a second rollback undoes the first', async () => {
    const store = newStore(storeDir());
    const first = await store.install('fileProxy', await material());
    const second = await store.install('fileProxy', await material());
    const status = await store.status('fileProxy');
    expect(status.current?.id).toBe(second.installed.id);
    expect(status.previous?.id).toBe(first.installed.id);
    expect((await store.rollback('fileProxy')).installed.id).toBe(first.installed.id);
    expect((await store.current('fileProxy'))?.id).toBe(first.installed.id);
    await store.rollback('fileProxy');
    expect((await store.current('fileProxy'))?.id).toBe(second.installed.id);
  });

  it('keeps only two generations and clears what an interrupted install left behind', async () => {
    const dir = storeDir();
    const store = newStore(dir);
    await store.install('federation', await material());
    mkdirSync(join(dir, 'federation', 'half-written'));
    await store.install('federation', await material());
    const third = await store.install('federation', await material());
    const entries = readdirSync(join(dir, 'federation'));
    expect(entries).toHaveLength(3);
    expect(entries).toContain(third.installed.id);
    expect(entries).not.toContain('half-written');
  });

  it('says when there is nothing to roll back to', async () => {
    const store = newStore(storeDir());
    await expect(store.rollback('federation')).rejects.toMatchObject({ code: 'no_previous' });
    await store.install('federation', await material());
    await expect(store.rollback('federation')).rejects.toMatchObject({ code: 'no_previous' });
  });

  it('refuses to roll back to a certificate that has expired since, unless forced', async () => {
    let now = new Date();
    const store = newStore(storeDir(), { now: () => now });
    const old = await store.install('federation', await material(hostnames, 30));
    await store.install('federation', await material());
    now = new Date(now.getTime() + 45 * day);
    await expect(store.rollback('federation')).rejects.toMatchObject({ code: 'cert_expired' });
    const forced = await store.rollback('federation', { force: true });
    expect(forced.installed.id).toBe(old.installed.id);
    expect(forced.report.summary.ok).toBe(false);
  });

  it('writes only wrapped keys when a wrap function is configured', async () => {
    const kek = randomBytes(32);
    const wrapKey = (plain: Uint8Array): Uint8Array => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', kek, iv);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    };
    const unwrapKey = (wrapped: Uint8Array): Uint8Array => {
      const decipher = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, 12));
      decipher.setAuthTag(wrapped.subarray(12, 28));
      return Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
    };
    const dir = storeDir();
    const store = newStore(dir, { wrapKey, unwrapKey });
    const { installed } = await store.install('federation', await material());
    const generation = join(dir, 'federation', installed.id);
    expect(readdirSync(generation)).not.toContain('key.pem');
    expect(readFileSync(join(generation, 'key.wrapped')).toString('latin1')).not.toContain('PRIVATE KEY');
    expect(statSync(join(generation, 'key.wrapped')).mode & 0o777).toBe(0o600);
    expect((await store.current('federation'))?.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect((await newStore(dir).status('federation')).current?.keyWrapped).toBe(true);
    await expect(newStore(dir).current('federation')).rejects.toMatchObject({ code: 'key_locked' });
  });

  it('applies per-call policy overrides on top of the store policy', async () => {
    const store = new CertStore({ dir: storeDir() });
    const chain = await material();
    await expect(store.install('federation', chain, { hostnames })).rejects.toMatchObject({ code: 'untrusted_root' });
    const { report } = await store.install('federation', chain, { hostnames, trustAnchors: [ca.certPem] });
    expect(report.summary.trusted).toBe(true);
  });
});
