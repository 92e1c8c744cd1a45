import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseCertificates } from '../certs/bundle.js';
import { certificateInfo, type ParsedCertificate } from '../certs/certificate.js';
import { certSlots, type CertMaterial, type CertSlot, type InstalledCertificate } from '../certs/store.js';
import type { BackupContentsView, BackupRestoreResponse } from '../admin/contract.js';
import { passwordMetaKey } from '../admin/password.js';
import { differences, readTree, settingsPath, writeSettingsFile } from '../admin/settings-file.js';
import { setupDoneKey, setupStartedKey } from '../admin/setup-state.js';
import { scrypt } from '../crypto/scrypt.js';
import { fromBase64Url, loadSodium, toBase64Url } from '../crypto/sodium.js';
import { ConsulateError } from '../errors.js';
import { fingerprintOf, type IdentityStore } from '../identity/identity.js';
import { appendAudit } from '../store/audit.js';
import type { Store } from '../store/database.js';
import type { Statement } from 'better-sqlite3';

/**
 * An encrypted backup of the whole configuration: identity keys (unsealed inside the
 * backup, re-sealed with the restoring appliance's key-encryption key), the whitelist
 * with its pins, the directory, API keys (their hashes), the admin password hash,
 * config.json and the installed certificates with their keys. Queues, the audit log
 * and the archive are not configuration and stay where they are.
 *
 * File: three lines. `CONSULATE-BACKUP 1`, a JSON header (scrypt parameters and salt,
 * nonce), then base64 of XChaCha20-Poly1305 over the JSON payload with both header lines
 * as associated data. Everything but the format is encrypted, the contents list included.
 */
export const backupMagic = 'CONSULATE-BACKUP 1';
export const minPassphraseLength = 12;
const scryptParams = { N: 2 ** 15, r: 8, p: 1 } as const;

/** Tables copied row by row, in insertion order (peer_keys refers to peers). */
const tables = ['peers', 'peer_keys', 'directory', 'api_keys'] as const;
/** Meta rows that are configuration; the rest (migrations, setup progress stamps) belongs to the machine. */
const metaKeys = [passwordMetaKey, setupDoneKey, setupStartedKey];

type Row = Record<string, unknown>;

const headerSchema = z.strictObject({
  kdf: z.strictObject({
    name: z.literal('scrypt'),
    N: z
      .number()
      .int()
      .min(2 ** 14)
      .max(2 ** 20),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    salt: z.string().min(16),
  }),
  nonce: z.string().min(16),
});

const payloadSchema = z.object({
  format: z.literal(1),
  createdAt: z.string(),
  consulateVersion: z.string(),
  schemaVersion: z.number().int(),
  domain: z.string(),
  config: z.record(z.string(), z.unknown()).nullable(),
  identities: z.array(z.object({ publicKey: z.string(), secretKey: z.string(), status: z.string(), createdAt: z.string(), retiredAt: z.string().nullable() })),
  tables: z.object(
    Object.fromEntries(tables.map((t) => [t, z.array(z.record(z.string(), z.unknown()))])) as Record<
      (typeof tables)[number],
      z.ZodArray<z.ZodRecord<z.ZodString, z.ZodUnknown>>
    >,
  ),
  meta: z.array(z.object({ key: z.string(), value: z.string() })),
  certificates: z.array(z.object({ slot: z.enum(certSlots as unknown as [CertSlot, ...CertSlot[]]), certChainPem: z.string(), keyPem: z.string() })),
});
export type BackupPayload = z.infer<typeof payloadSchema>;

/** What a backup holds, listed before restoring (the admin API's view, service/admin/contract.ts). */
export type BackupContents = BackupContentsView;

export interface BackupSources {
  store: Store;
  identities: IdentityStore;
  dataDir: string;
  consulateVersion: string;
  domain: string;
  /** The certificate in use per slot, key unwrapped; undefined when the slot is empty. */
  currentCertificate: (slot: CertSlot) => Promise<InstalledCertificate | undefined>;
}

export interface RestoreTarget extends BackupSources {
  /** Validates and installs a certificate (wrapping its key as this appliance does); throws the CertError of a failed check. */
  installCertificate: (slot: CertSlot, material: CertMaterial) => Promise<void>;
  actor: string;
}

/** What a restore did (the admin API's answer, service/admin/contract.ts). */
export type RestoreResult = BackupRestoreResponse;

function encodeRow(row: Row): Row {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Uint8Array ? { $b64: Buffer.from(v).toString('base64') } : v]));
}

function decodeRow(row: Row): Row {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      v !== null && typeof v === 'object' && '$b64' in v ? Buffer.from(String((v as { $b64: unknown }).$b64), 'base64') : v,
    ]),
  );
}

/** Collects the configuration; nothing is written. */
export async function collectBackup(sources: BackupSources): Promise<BackupPayload> {
  const { store, identities } = sources;
  const sqlite = store.sqlite;
  const history = await identities.history();
  const identityRows = [];
  for (const key of history) {
    const unsealed = await identities.unseal(key.id);
    identityRows.push({
      publicKey: key.id,
      secretKey: toBase64Url(unsealed.secretKey),
      status: key.status,
      createdAt: key.createdAt,
      retiredAt: key.retiredAt,
    });
  }
  const configPath = settingsPath(sources.dataDir);
  const certificates: BackupPayload['certificates'] = [];
  for (const slot of certSlots) {
    const current = await sources.currentCertificate(slot);
    if (current) certificates.push({ slot, certChainPem: current.certChainPem, keyPem: current.keyPem });
  }
  const placeholders = metaKeys.map(() => '?').join(', ');
  return {
    format: 1,
    createdAt: new Date().toISOString(),
    consulateVersion: sources.consulateVersion,
    schemaVersion: store.schemaVersion,
    domain: sources.domain,
    config: existsSync(configPath) ? readTree(configPath) : null,
    identities: identityRows,
    tables: Object.fromEntries(tables.map((t) => [t, (sqlite.prepare(`select * from ${t}`).all() as Row[]).map(encodeRow)])) as BackupPayload['tables'],
    meta: sqlite.prepare(`select key, value from meta where key in (${placeholders})`).all(...metaKeys) as Array<{ key: string; value: string }>,
    certificates,
  };
}

export async function sealBackup(payload: BackupPayload, passphrase: string): Promise<string> {
  if (passphrase.length < minPassphraseLength)
    throw new ConsulateError('passphrase_weak', `the backup passphrase must be at least ${minPassphraseLength} characters`);
  const sodium = await loadSodium();
  const salt = randomBytes(16);
  const nonce = randomBytes(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const header = JSON.stringify({ kdf: { name: 'scrypt', ...scryptParams, salt: salt.toString('base64url') }, nonce: nonce.toString('base64url') });
  const key = await scrypt(passphrase, salt, 32, scryptParams);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    Buffer.from(JSON.stringify(payload)),
    Buffer.from(`${backupMagic}\n${header}`),
    null,
    nonce,
    key,
  );
  return `${backupMagic}\n${header}\n${Buffer.from(sealed).toString('base64')}\n`;
}

/** Decrypts and checks a backup; throws backup_malformed, backup_passphrase or backup_incompatible. */
export async function openBackup(text: string, passphrase: string): Promise<BackupPayload> {
  const [magic, headerLine, body] = text.replace(/\r\n/g, '\n').split('\n');
  if (magic !== backupMagic || !headerLine || !body) throw new ConsulateError('backup_malformed', 'this is not a Consulate backup file (or it was cut short)');
  let header: z.infer<typeof headerSchema>;
  try {
    header = headerSchema.parse(JSON.parse(headerLine));
  } catch {
    throw new ConsulateError('backup_malformed', 'the backup header is damaged');
  }
  const sodium = await loadSodium();
  const key = await scrypt(passphrase, Buffer.from(header.kdf.salt, 'base64url'), 32, header.kdf);
  let plain: Uint8Array;
  try {
    plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      Buffer.from(body, 'base64'),
      Buffer.from(`${magic}\n${headerLine}`),
      Buffer.from(header.nonce, 'base64url'),
      key,
    );
  } catch {
    throw new ConsulateError('backup_passphrase', 'the passphrase is wrong, or the backup file was altered');
  }
  const parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(plain).toString('utf8')));
  if (!parsed.success)
    throw new ConsulateError(
      'backup_incompatible',
      `the backup's contents are not in a format this Consulate reads (${parsed.error.issues[0]?.path.join('.') ?? '?'})`,
    );
  return parsed.data;
}

function settingsKeys(tree: unknown, prefix = ''): string[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return prefix ? [prefix] : [];
  return Object.entries(tree).flatMap(([k, v]) => settingsKeys(v, prefix ? `${prefix}.${k}` : k));
}

/** What a backup holds, for the operator to read before restoring. */
export function backupContents(payload: BackupPayload): BackupContents {
  const pins = new Map<string, number>();
  for (const row of payload.tables.peer_keys) pins.set(String(row['domain']), (pins.get(String(row['domain'])) ?? 0) + 1);
  return {
    createdAt: payload.createdAt,
    consulateVersion: payload.consulateVersion,
    domain: payload.domain,
    identities: payload.identities.map((k) => ({ fingerprint: fingerprintOf(k.publicKey), status: k.status, createdAt: k.createdAt })),
    peers: payload.tables.peers.map((p) => ({ domain: String(p['domain']), state: String(p['state'] ?? 'active'), pins: pins.get(String(p['domain'])) ?? 0 })),
    apiKeys: payload.tables.api_keys.map((k) => ({ name: String(k['name']), revoked: k['revokedAt'] !== null && k['revokedAt'] !== undefined })),
    directoryUsers: payload.tables.directory.length,
    certificates: payload.certificates.map((c) => {
      const info = certificateInfo(parseCertificates(c.certChainPem)[0] as ParsedCertificate);
      return { slot: c.slot, subject: info.subject, sans: info.sans, notAfter: info.notAfter.toISOString() };
    }),
    settings: settingsKeys(payload.config),
    adminPassword: payload.meta.some((m) => m.key === 'admin_password'),
  };
}

export function backupFileName(domain: string, at = new Date()): string {
  return `consulate-${domain}-${at.toISOString().replace(/[:.]/g, '-')}.consulate-backup`;
}

/**
 * Replaces this appliance's configuration with the backup's. The configuration as it was
 * is first saved, encrypted with the same passphrase, under <data-dir>/backups. Keys,
 * whitelist, directory, API keys and password change in one transaction; a certificate
 * that no longer passes validation (e.g. expired since) is skipped and reported.
 */
export async function restoreBackup(target: RestoreTarget, payload: BackupPayload, passphrase: string): Promise<RestoreResult> {
  const { store, identities } = target;
  if (payload.schemaVersion !== store.schemaVersion) {
    throw new ConsulateError(
      'backup_incompatible',
      `the backup has database schema ${payload.schemaVersion}, this Consulate ${store.schemaVersion}; restore it with the version that made it (${payload.consulateVersion}), then upgrade`,
    );
  }
  if (!payload.identities.some((k) => k.status === 'active')) throw new ConsulateError('backup_incompatible', 'the backup holds no active identity key');
  const contents = backupContents(payload);
  // Sealed before anything changes, so a wrong key-encryption key fails here.
  const identityRows: Row[] = [];
  for (const k of payload.identities) {
    const publicKey = fromBase64Url(k.publicKey);
    identityRows.push({
      publicKey: k.publicKey,
      ...(await identities.sealSecret(publicKey, fromBase64Url(k.secretKey))),
      status: k.status,
      createdAt: k.createdAt,
      retiredAt: k.retiredAt,
    });
  }

  // Raw statements on the same connection run inside Kysely's transaction (one SQLite handle).
  const sqlite = store.sqlite;
  const known = new Map<string, Set<string>>();
  for (const table of [...tables, 'identity_keys', 'meta']) {
    known.set(table, new Set((sqlite.prepare(`pragma table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name)));
  }
  for (const table of tables) {
    for (const row of payload.tables[table]) {
      const unknown = Object.keys(row).find((c) => !known.get(table)?.has(c));
      if (unknown !== undefined)
        throw new ConsulateError('backup_incompatible', `the backup's ${table} has a column ${JSON.stringify(unknown)} this Consulate does not have`);
    }
  }

  const backups = join(target.dataDir, 'backups');
  mkdirSync(backups, { recursive: true, mode: 0o700 });
  const savedAs = join(backups, `pre-restore-${backupFileName(target.domain)}`);
  writeFileSync(savedAs, await sealBackup(await collectBackup(target), passphrase), { mode: 0o600, flag: 'wx' });

  const certificatesSkipped: RestoreResult['certificatesSkipped'] = [];
  for (const cert of payload.certificates) {
    try {
      await target.installCertificate(cert.slot, { certChainPem: cert.certChainPem, keyPem: cert.keyPem });
    } catch (error) {
      const code = error instanceof ConsulateError ? error.code : 'internal';
      certificatesSkipped.push({ slot: cert.slot, code, message: (error as Error).message });
    }
  }

  // One prepared statement per table and column list, not one per row.
  const inserts = new Map<string, Statement>();
  const insert = (table: string, row: Row) => {
    const columns = Object.keys(row);
    const key = `${table}(${columns.join(', ')})`;
    let statement = inserts.get(key);
    if (!statement) inserts.set(key, (statement = sqlite.prepare(`insert into ${key} values (${columns.map(() => '?').join(', ')})`)));
    statement.run(...columns.map((c) => row[c]));
  };
  await store.db.transaction().execute(async (trx) => {
    for (const table of [...tables].reverse()) sqlite.prepare(`delete from ${table}`).run();
    sqlite.prepare('delete from identity_keys').run();
    for (const row of identityRows) insert('identity_keys', row);
    for (const table of tables) for (const row of payload.tables[table]) insert(table, decodeRow(row));
    sqlite.prepare(`delete from meta where key in (${metaKeys.map(() => '?').join(', ')})`).run(...metaKeys);
    for (const m of payload.meta.filter((m) => metaKeys.includes(m.key))) insert('meta', m);
    await appendAudit(trx, {
      actor: target.actor,
      action: 'backup.restore',
      target: payload.domain,
      details: { createdAt: payload.createdAt, peers: contents.peers.length, savedAs },
    });
  });

  // Ports, addresses and the domain apply at the next start.
  let restartRequired = false;
  if (payload.config) {
    restartRequired = differences(readTree(settingsPath(target.dataDir)), payload.config).length > 0;
    writeSettingsFile(target.dataDir, payload.config);
  }
  return { contents, savedAs, certificatesSkipped, restartRequired };
}
