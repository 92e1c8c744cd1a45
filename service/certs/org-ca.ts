import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kek } from '../identity/kek.js';
import { parseCertificates } from './bundle.js';
import { certificateInfo, type CertificateInfo, type ParsedCertificate } from './certificate.js';
import { CertError } from './errors.js';
import { createPrivateCa, exportCaCertificatePem, type CreatePrivateCaOptions, type PrivateCa } from './private-ca.js';

/**
 * The organisation CA on disk: `ca.crt` (public) and its key, either sealed with the
 * appliance's key-encryption key (`ca.key.sealed`, when the CA lives in the data
 * directory) or as plain PEM with mode 0600 (`ca.key`, for a CA kept on a USB stick and
 * used from any machine).
 */
export interface OrgCaFiles {
  dir: string;
  cert: string;
  key: string;
  sealedKey: string;
}

export interface OrgCaDescription {
  dir: string;
  certPem: string;
  info: CertificateInfo;
  /** The key is sealed with the appliance KEK rather than stored as plain PEM. */
  sealed: boolean;
}

const sealInfo = 'consulate private ca key v1';

export function orgCaFiles(dir: string): OrgCaFiles {
  return { dir, cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key'), sealedKey: join(dir, 'ca.key.sealed') };
}

function sealKey(kek: Kek): Buffer {
  // A subkey per purpose, so the identity seal and the CA seal never share a key.
  return Buffer.from(hkdfSync('sha256', kek.key, Buffer.alloc(0), sealInfo, 32));
}

function sealPem(kek: Kek, keyPem: string, caFingerprint: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(kek), nonce);
  // Bound to the CA certificate, so a sealed key cannot be paired with another certificate.
  cipher.setAAD(Buffer.from(`${sealInfo}|${caFingerprint}`));
  const data = Buffer.concat([cipher.update(keyPem, 'utf8'), cipher.final()]);
  return `${JSON.stringify({ version: 1, alg: 'aes-256-gcm', kekSource: kek.source, nonce: nonce.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') }, null, 2)}\n`;
}

function unsealPem(kek: Kek, text: string, caFingerprint: string): string {
  let sealed: { version: number; alg: string; kekSource?: string; nonce: string; tag: string; data: string };
  try {
    sealed = JSON.parse(text) as typeof sealed;
  } catch (error) {
    throw new CertError('ca_invalid', 'the sealed CA key file is damaged', { cause: error });
  }
  if (sealed.version !== 1 || sealed.alg !== 'aes-256-gcm')
    throw new CertError('ca_invalid', `the sealed CA key has an unknown format (version ${String(sealed.version)})`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey(kek), Buffer.from(sealed.nonce, 'base64'));
    decipher.setAAD(Buffer.from(`${sealInfo}|${caFingerprint}`));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new CertError(
      'key_locked',
      `the CA key cannot be unsealed with the key from ${kek.source}${sealed.kekSource ? ` (it was sealed with the key from ${sealed.kekSource})` : ''}`,
      { cause: error },
    );
  }
}

async function writeNew(path: string, data: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The CA certificate, or undefined when the directory holds no CA. */
export async function describeOrgCa(dir: string): Promise<OrgCaDescription | undefined> {
  const files = orgCaFiles(dir);
  let certPem: string;
  try {
    certPem = await readFile(files.cert, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CertError('store_io', `cannot read ${files.cert}: ${(error as Error).message}`, { cause: error });
  }
  const [cert] = parseCertificates(certPem);
  return { dir, certPem, info: certificateInfo(cert as ParsedCertificate), sealed: existsSync(files.sealedKey) };
}

export interface InitOrgCaOptions extends CreatePrivateCaOptions {
  dir: string;
  /** Seal the key with this KEK; without it the key is written as plain PEM (mode 0600). */
  kek?: Kek | undefined;
}

/** Creates the CA once; an existing CA is never replaced, because every peer trusts it. */
export async function initOrgCa(options: InitOrgCaOptions): Promise<OrgCaDescription> {
  const files = orgCaFiles(options.dir);
  if (existsSync(files.cert) || existsSync(files.key) || existsSync(files.sealedKey)) {
    throw new CertError(
      'ca_exists',
      `an organisation CA already exists in ${options.dir}; peers trust it, so it is not replaced (move the directory away first to start over)`,
    );
  }
  const { dir: _dir, kek, ...caOptions } = options;
  const ca = await createPrivateCa(caOptions);
  try {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    // The key first: a crash leaves no certificate without its key.
    if (kek) await writeNew(files.sealedKey, sealPem(kek, ca.keyPem, ca.info.fingerprintSha256), 0o600);
    else await writeNew(files.key, ca.keyPem, 0o600);
    await writeNew(files.cert, ca.certPem, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new CertError('ca_exists', `an organisation CA already exists in ${options.dir}`, { cause: error });
    throw new CertError('store_io', `cannot write the CA to ${options.dir}: ${(error as Error).message}`, { cause: error });
  }
  return { dir: options.dir, certPem: ca.certPem, info: ca.info, sealed: kek !== undefined };
}

/** Certificate and key, ready for `issueServerCertificate`. `kek` is asked for only when the key is sealed. */
export async function loadOrgCa(dir: string, kek: () => Kek): Promise<PrivateCa & { info: CertificateInfo }> {
  const described = await describeOrgCa(dir);
  if (!described) throw new CertError('ca_missing', `there is no organisation CA in ${dir}; create one with \`consulate ca init\``);
  const files = orgCaFiles(dir);
  let keyPem: string;
  try {
    keyPem = described.sealed ? unsealPem(kek(), await readFile(files.sealedKey, 'utf8'), described.info.fingerprintSha256) : await readFile(files.key, 'utf8');
  } catch (error) {
    if (error instanceof CertError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CertError('ca_invalid', `the CA key is missing from ${dir}; only its certificate is there`, { cause: error });
    throw new CertError('store_io', `cannot read the CA key in ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return { certPem: described.certPem, keyPem, info: described.info };
}

/** Only the certificate, for peers to add as a trust anchor. */
export async function exportOrgCa(dir: string): Promise<string> {
  const described = await describeOrgCa(dir);
  if (!described) throw new CertError('ca_missing', `there is no organisation CA in ${dir}; create one with \`consulate ca init\``);
  return exportCaCertificatePem(described.certPem);
}
