import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Certificates made by the OpenSSL command line, so the library is tested against the
 * tool every CA and administrator uses rather than against itself.
 */
const config = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca]
default_ca = ca_default
[ca_default]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial.txt
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied

[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[v3_intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_intermediate_open]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:fed.example.org,DNS:files.example.org
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_leaf_rsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:fed.example.org,DNS:files.example.org

[v3_leaf_wrong_san]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:fed.example.org,DNS:other.example.net

[v3_leaf_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:fed.example.org,DNS:files.example.org

[v3_leaf_self]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:fed.example.org,DNS:files.example.org
subjectKeyIdentifier = hash
`;

export type KeyType = 'ec' | 'rsa1024' | 'rsa2048';

export interface SignOptions {
  days?: number;
  digest?: 'sha256' | 'sha1';
  /** OpenSSL `ca` date form YYYYMMDDHHMMSSZ; when set, `openssl ca` issues instead of `openssl x509`. */
  startDate?: string;
  endDate?: string;
}

export class OpensslPki {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'consulate-certs-'));
    writeFileSync(join(this.dir, 'openssl.cnf'), config);
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'serial.txt'), '1000\n');
    mkdirSync(join(this.dir, 'issued'));
  }

  openssl(args: readonly string[]): string {
    const result = spawnSync('openssl', args, { cwd: this.dir, encoding: 'utf8', env: { ...process.env, OPENSSL_CONF: join(this.dir, 'openssl.cnf') } });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }

  bytes(name: string): Uint8Array {
    return new Uint8Array(readFileSync(this.path(name)));
  }

  write(name: string, data: string | Uint8Array): string {
    writeFileSync(this.path(name), data);
    return this.path(name);
  }

  key(name: string, type: KeyType = 'ec'): string {
    const algorithm =
      type === 'ec' ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${type.slice(3)}`];
    this.openssl(['genpkey', ...algorithm, '-out', `${name}.key`]);
    return this.read(`${name}.key`);
  }

  /** A self-signed certificate with the given extension section (a root, or a self-signed leaf). */
  selfSigned(name: string, commonName: string, extensions: string, keyType: KeyType = 'ec', days = 3650): string {
    this.key(name, keyType);
    this.openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-subj',
      `/O=Consulate Test/CN=${commonName}`,
      '-days',
      String(days),
      '-sha256',
      '-config',
      'openssl.cnf',
      '-extensions',
      extensions,
      '-out',
      `${name}.pem`,
    ]);
    return this.read(`${name}.pem`);
  }

  /** A new key and a certificate for it, signed by `issuer` (which has `<issuer>.pem` and `<issuer>.key`). */
  issue(name: string, commonName: string, issuer: string, extensions: string, options: SignOptions & { keyType?: KeyType } = {}): string {
    this.key(name, options.keyType ?? 'ec');
    this.openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/O=Consulate Test/CN=${commonName}`, '-config', 'openssl.cnf', '-out', `${name}.csr`]);
    return this.signCsr(`${name}.csr`, name, issuer, extensions, options);
  }

  signCsr(csrFile: string, name: string, issuer: string, extensions: string, options: SignOptions & { copyExtensions?: boolean } = {}): string {
    if (options.startDate !== undefined || options.endDate !== undefined) {
      const dates = [...(options.startDate ? ['-startdate', options.startDate] : []), ...(options.endDate ? ['-enddate', options.endDate] : [])];
      this.openssl([
        'ca',
        '-batch',
        '-notext',
        '-config',
        'openssl.cnf',
        '-cert',
        `${issuer}.pem`,
        '-keyfile',
        `${issuer}.key`,
        '-in',
        csrFile,
        '-extensions',
        extensions,
        ...dates,
        '-out',
        `${name}.pem`,
      ]);
    } else {
      this.openssl([
        'x509',
        '-req',
        '-in',
        csrFile,
        '-CA',
        `${issuer}.pem`,
        '-CAkey',
        `${issuer}.key`,
        '-set_serial',
        `0x${randomBytes(12).toString('hex')}`,
        '-days',
        String(options.days ?? 90),
        `-${options.digest ?? 'sha256'}`,
        ...(options.copyExtensions ? ['-copy_extensions', 'copyall'] : ['-extfile', 'openssl.cnf', '-extensions', extensions]),
        '-out',
        `${name}.pem`,
      ]);
    }
    return this.read(`${name}.pem`);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** OpenSSL's `ca` date form, `YYYYMMDDHHMMSSZ`. */
export function caDate(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/** Root, pathlen-0 intermediate and leaf for fed.example.org and files.example.org, all EC P-256. */
export function standardPki(): OpensslPki {
  const pki = new OpensslPki();
  pki.selfSigned('root', 'Consulate Test Root', 'v3_root');
  pki.issue('intermediate', 'Consulate Test Intermediate', 'root', 'v3_intermediate', { days: 1825 });
  pki.issue('leaf', 'fed.example.org', 'intermediate', 'v3_leaf');
  return pki;
}
