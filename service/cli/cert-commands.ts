import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { cliActor, out, promptHidden, readInput, secretFromOptions } from './io.js';
import { importCertificateBundle } from '../certs/bundle.js';
import { createCsr } from '../certs/csr.js';
import { describeCertificate } from '../certs/describe.js';
import { CertError, isCertError } from '../certs/errors.js';
import { expiryState } from '../certs/expiry.js';
import { isKeyAlgorithm, keyAlgorithms, type KeyAlgorithm } from '../certs/keys.js';
import {
  applianceHostnames,
  certPolicy,
  openCertStore,
  orgCaDir,
  parseSlot,
  prepareImport,
  readAdminCaBundle,
  removePendingKey,
  savePendingKey,
  slotHostnames,
  slotLabel,
} from '../certs/local.js';
import { describeOrgCa, exportOrgCa, initOrgCa, loadOrgCa } from '../certs/org-ca.js';
import { issueServerCertificate } from '../certs/private-ca.js';
import { infoLines, reportLines, summaryLine } from '../certs/report-text.js';
import { certSlots, type CertMaterial, type CertSlot, type CertStore } from '../certs/store.js';
import { validateCertificate, type CertCheck, type ValidationReport } from '../certs/validate.js';
import { checksView, reportView, storedView } from '../certs/views.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConsulateError } from '../errors.js';
import { legacyTlsPaths, readLegacyTlsMaterial } from '../federation/tls-files.js';
import { resolveKek } from '../identity/kek.js';
import { appendAudit, type AuditEntry } from '../store/audit.js';
import { openStore } from '../store/database.js';
import { createLogger } from '../telemetry/logger.js';
import { resolveDataDir } from './data-dir.js';

interface GlobalOptions {
  dataDir?: string;
  config?: string;
}

interface Appliance {
  dataDir: string;
  config: Config;
  store: CertStore;
}

interface PasswordOptions {
  passwordEnv?: string;
  passwordFile?: string;
}

const liveNote = 'a running `consulate serve` uses it for new connections within a second; established links continue';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function dataDirOf(command: Command): string {
  return resolveDataDir((command.optsWithGlobals() as GlobalOptions).dataDir);
}

/** The certificate store works on files, so the commands work whether or not `consulate serve` runs. */
function appliance(command: Command): Appliance {
  const global = command.optsWithGlobals() as GlobalOptions;
  const dataDir = resolveDataDir(global.dataDir);
  if (!existsSync(dataDir)) throw new ConsulateError('data_dir_missing', `no appliance in ${dataDir}; run \`consulate init\` first or pass --data-dir`);
  const { config } = loadConfig({ dataDir, configFile: global.config, env: process.env });
  return { dataDir, config, store: openCertStore(dataDir, config) };
}

function keyAlgorithm(value: string | undefined): KeyAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!isKeyAlgorithm(value)) throw new ConsulateError('bad_request', `--key-type must be one of ${keyAlgorithms.join(', ')}`);
  return value;
}

function days(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new ConsulateError('bad_request', '--days must be a whole number of days');
  return parsed;
}

/** Every change lands in the appliance's hash-chained audit log, as GUI changes do. */
async function audit(dataDir: string, entry: AuditEntry): Promise<void> {
  const store = await openStore({ dataDir, logger: createLogger({ level: 'warn', destination: process.stderr }) });
  try {
    await store.db.transaction().execute((trx) => appendAudit(trx, { ...entry, actor: cliActor }));
  } finally {
    await store.close();
  }
}

function givenPassword(options: PasswordOptions): string | undefined {
  return secretFromOptions('password', options.passwordEnv, options.passwordFile);
}

/** Runs `work` with the given password; asks on a terminal when the file turns out to need one. */
async function withPassword<T>(options: PasswordOptions, work: (password: string | undefined) => Promise<T>): Promise<T> {
  const password = givenPassword(options);
  try {
    return await work(password);
  } catch (error) {
    const needsOne = isCertError(error) && (error.code === 'p12_bad_password' || error.code === 'key_encrypted');
    if (!needsOne || password !== undefined || !process.stdin.isTTY) throw error;
    return work(await promptHidden('password for the certificate file: '));
  }
}

function printReport(report: ValidationReport): void {
  for (const line of reportLines(report)) out(line);
  out(summaryLine(report));
}

function printChecks(checks: readonly CertCheck[]): void {
  const width = Math.max(...checks.map((check) => check.id.length));
  for (const check of checks) {
    const mark = check.ok ? 'PASS' : check.severity === 'error' ? 'FAIL' : 'WARN';
    out(`${mark}  ${check.id.padEnd(width)}  ${check.ok ? '' : `${check.code ?? 'failed'}: `}${check.message}`);
  }
}

/** The first failed error check as the command's error, so the exit code and `consulate: <code>` say why. */
function failure(report: ValidationReport, what: string): CertError | undefined {
  const failed = report.checks.find((check) => !check.ok && check.severity === 'error');
  return failed ? new CertError(failed.code ?? 'chain_invalid', `${what}: ${failed.message}`) : undefined;
}

/** Says plainly that nothing changed, and prints the whole report first so every problem shows at once. */
async function refusing<T>(slot: CertSlot, json: boolean, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isCertError(error)) throw error;
    const checks = error.details?.['checks'] as CertCheck[] | undefined;
    if (checks && !json) printChecks(checks);
    if (json)
      out(
        JSON.stringify({ installed: false, error: { code: error.code, message: error.message }, ...(checks ? { checks: checksView(checks) } : {}) }, null, 2),
      );
    throw new CertError(error.code, `not installed, the ${slotLabel(slot)} certificate in use is unchanged: ${error.message}`);
  }
}

function install(app: Appliance, slot: CertSlot, material: CertMaterial, extraAnchors: string[] = []) {
  const overrides =
    extraAnchors.length > 0
      ? { trustAnchors: [...(certPolicy(app.dataDir, app.config, readAdminCaBundle(app.config))(slot).trustAnchors ?? []), ...extraAnchors] }
      : undefined;
  return app.store.install(slot, material, overrides);
}

function printInstalled(slot: CertSlot, result: Awaited<ReturnType<CertStore['install']>>): void {
  out(`installed in the ${slotLabel(slot)} slot:`);
  for (const line of infoLines(result.installed.info)) out(line);
  const warnings = result.report.checks.filter((check) => !check.ok);
  if (warnings.length > 0) printChecks(warnings);
  out(liveNote);
}

function firstName(hostnames: readonly { value: string }[]): string {
  return (hostnames[0]?.value ?? 'consulate').replace(/^\*\./, 'wildcard.');
}

export function addCertCommands(program: Command): void {
  const cert = program.command('cert').description('TLS certificates of the federation and file-proxy listeners (docs/certificates.md)');

  cert
    .command('csr')
    .description('make a key and a certificate signing request for a public or enterprise CA; the key stays on this appliance')
    .option('--hostname <name>', 'DNS name or IP address for subjectAltName (repeat; default: the configured hostnames)', collect, [])
    .option('--key-type <type>', `${keyAlgorithms.join(', ')} (default ecdsa-p256)`)
    .option('--key <file>', 'reuse this key (PEM) instead of making a new one')
    .option('--common-name <cn>', 'subject CN (default: the first hostname)')
    .option('--organization <o>', 'subject O')
    .option('--country <c>', 'subject C, two letters')
    .option('--out-dir <dir>', 'where the .csr is written', '.')
    .option('--export-key', 'also write the key next to the CSR (mode 0600), for installing the certificate elsewhere')
    .action(
      async (
        options: {
          hostname: string[];
          keyType?: string;
          key?: string;
          commonName?: string;
          organization?: string;
          country?: string;
          outDir: string;
          exportKey?: boolean;
        },
        command: Command,
      ) => {
        const app = appliance(command);
        const hostnames = options.hostname.length > 0 ? options.hostname : applianceHostnames(app.config);
        if (hostnames.length === 0)
          throw new CertError('hostname_invalid', 'no hostname: pass --hostname, or set federation.hostname (and fileProxy.hostname) in the configuration');
        const csr = await createCsr({
          hostnames,
          algorithm: keyAlgorithm(options.keyType),
          keyPem: options.key ? readInput(options.key, 'key file').toString('utf8') : undefined,
          commonName: options.commonName,
          organization: options.organization,
          country: options.country,
        });
        const name = firstName(csr.hostnames);
        await mkdir(options.outDir, { recursive: true });
        const csrPath = resolve(options.outDir, `${name}.csr`);
        await writeFile(csrPath, csr.csrPem);
        const pending = await savePendingKey(app.dataDir, csr.keyPem);
        out(`wrote ${csrPath} (${csr.key}; ${csr.hostnames.map((h) => h.value).join(', ')})`);
        out(`the key is kept in ${pending} (mode 0600)`);
        if (options.exportKey) {
          const keyPath = resolve(options.outDir, `${name}.key`);
          await writeFile(keyPath, csr.keyPem, { mode: 0o600 });
          out(`wrote ${keyPath} (mode 0600)`);
        }
        await audit(app.dataDir, { actor: cliActor, action: 'cert.csr', target: csr.hostnames.map((h) => h.value).join(','), details: { key: csr.key } });
        out(`next: send the CSR to the CA, then \`consulate cert import <certificate file>\` (the key is found automatically)`);
      },
    );

  cert
    .command('import')
    .description('validate and install a certificate (PEM bundle, DER, PKCS#7 or PKCS#12); refused with the reason if any check fails')
    .argument('<file>', 'certificate with its chain: .pem/.crt, .cer, .p7b, or .p12/.pfx')
    .option('--key <file>', 'the private key (PEM), unless the file holds it or the CSR was made here')
    .option('--chain <file>', 'intermediate certificates delivered separately (repeat)', collect, [])
    .option('--password-env <var>', 'read the PKCS#12 or key password from this environment variable')
    .option('--password-file <file>', 'read the PKCS#12 or key password from this file')
    .option('--slot <slot>', 'federation or file-proxy', 'federation')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: PasswordOptions & { key?: string; chain: string[]; slot: string; json?: boolean }, command: Command) => {
      const slot = parseSlot(options.slot);
      const app = appliance(command);
      const bundle = new Uint8Array(readInput(file, 'certificate file'));
      const keyPem = options.key ? readInput(options.key, 'key file').toString('utf8') : undefined;
      const chain = options.chain.map((path) => new Uint8Array(readInput(path, 'chain file')));
      const { prepared, result } = await refusing(slot, options.json === true, async () => {
        const ready = await withPassword(options, (password) => prepareImport(app.dataDir, app.store, { bundle, keyPem, password, chain }));
        return { prepared: ready, result: await install(app, slot, ready.material) };
      });
      await removePendingKey(prepared.pendingKeyPath);
      await audit(app.dataDir, {
        actor: cliActor,
        action: 'cert.install',
        target: slot,
        details: { fingerprint: result.installed.info.fingerprintSha256, subject: result.installed.info.subject, format: prepared.format },
      });
      if (options.json) out(JSON.stringify({ installed: true, slot, certificate: storedView(result.installed), report: reportView(result.report) }, null, 2));
      else printInstalled(slot, result);
    });

  cert
    .command('show')
    .description('the installed certificates (current and previous) and when they expire')
    .option('--slot <slot>', 'federation or file-proxy (default both)')
    .option('--json', 'machine-readable output')
    .action(async (options: { slot?: string; json?: boolean }, command: Command) => {
      const app = appliance(command);
      const slots = options.slot ? [parseSlot(options.slot)] : [...certSlots];
      const now = new Date();
      const views = [];
      for (const slot of slots) {
        const status = await app.store.status(slot);
        const expiry = status.current ? expiryState(status.current.info.notBefore, status.current.info.notAfter, now) : undefined;
        views.push({ slot, status, expiry });
      }
      if (options.json) {
        out(
          JSON.stringify(
            views.map(({ slot, status, expiry }) => ({
              slot,
              hostnames: slotHostnames(app.config, slot),
              state: expiry?.state ?? 'missing',
              secondsToExpiry: expiry?.secondsToExpiry ?? null,
              current: status.current ? storedView(status.current) : null,
              previous: status.previous ? storedView(status.previous) : null,
            })),
            null,
            2,
          ),
        );
        return;
      }
      for (const { slot, status, expiry } of views) {
        const names = slotHostnames(app.config, slot);
        out(`${slotLabel(slot)}${names.length > 0 ? ` (${names.join(', ')})` : ''}: ${status.current ? expiry?.state : 'no certificate'}`);
        if (!status.current) {
          const legacy = slot === 'federation' ? readLegacyTlsMaterial(app.dataDir) : undefined;
          if (legacy) {
            out(
              `  ${legacyTlsPaths(app.dataDir).cert} (from before the certificate store): the service moves it into the store at start, or serves it as it is while it fails a check (\`consulate cert check\` says which)`,
            );
            for (const info of describeCertificate(legacy.certChainPem).slice(0, 1)) for (const line of infoLines(info, now, '    ')) out(line);
          } else {
            out(
              slot === 'fileProxy'
                ? '  the federation certificate serves the file proxy too'
                : '  install one with `consulate cert import` or `consulate ca issue --install`',
            );
          }
          continue;
        }
        out(`  current, installed ${status.current.installedAt.toISOString()} (${status.current.id})`);
        for (const line of infoLines(status.current.info, now, '    ')) out(line);
        if (status.previous) {
          out(
            `  previous (\`consulate cert rollback${slot === 'fileProxy' ? ' --slot file-proxy' : ''}\` restores it), installed ${status.previous.installedAt.toISOString()}`,
          );
          for (const line of infoLines(status.previous.info, now, '    ')) out(line);
        }
      }
    });

  cert
    .command('check')
    .description('the validation report: of the installed certificate, or of a file before importing it')
    .argument('[file]', 'a certificate file to check instead of the installed one')
    .option('--key <file>', 'the private key (PEM) for the file')
    .option('--chain <file>', 'intermediate certificates delivered separately (repeat)', collect, [])
    .option('--password-env <var>', 'read the PKCS#12 or key password from this environment variable')
    .option('--password-file <file>', 'read the PKCS#12 or key password from this file')
    .option('--hostname <name>', 'check these names instead of the configured ones (repeat)', collect, [])
    .option('--slot <slot>', 'federation or file-proxy (default: every installed slot, or federation for a file)')
    .option('--json', 'machine-readable output')
    .action(
      async (
        file: string | undefined,
        options: PasswordOptions & { key?: string; chain: string[]; hostname: string[]; slot?: string; json?: boolean },
        command: Command,
      ) => {
        const app = appliance(command);
        const policyOf = certPolicy(app.dataDir, app.config, readAdminCaBundle(app.config));
        const targets: Array<{ slot: CertSlot; label: string; material: { certChainPem: string; keyPem?: string | undefined } }> = [];
        if (file) {
          const slot = parseSlot(options.slot);
          const bundle = new Uint8Array(readInput(file, 'certificate file'));
          const keyPem = options.key ? readInput(options.key, 'key file').toString('utf8') : undefined;
          const chain = options.chain.map((path) => new Uint8Array(readInput(path, 'chain file')));
          const material = await withPassword(options, async (password) => {
            try {
              return (await prepareImport(app.dataDir, app.store, { bundle, keyPem, password, chain })).material;
            } catch (error) {
              // Without a key the rest of the report is still worth having.
              if (!isCertError(error) || error.code !== 'key_missing') throw error;
              return { certChainPem: (await importCertificateBundle(bundle, { password })).certChainPem, keyPem: undefined };
            }
          });
          targets.push({ slot, label: file, material });
        } else {
          const slots = options.slot ? [parseSlot(options.slot)] : [...certSlots];
          for (const slot of slots) {
            const current = await app.store.current(slot);
            if (current) targets.push({ slot, label: `the installed ${slotLabel(slot)} certificate`, material: current });
            const legacy = slot === 'federation' && !current ? readLegacyTlsMaterial(app.dataDir) : undefined;
            if (legacy) targets.push({ slot, label: legacyTlsPaths(app.dataDir).cert, material: legacy });
          }
          if (targets.length === 0) {
            const which = options.slot ? `${slotLabel(parseSlot(options.slot))} ` : '';
            throw new CertError('cert_missing', `no ${which}certificate is installed; import one with \`consulate cert import\``);
          }
        }
        let problem: CertError | undefined;
        const results = [];
        for (const target of targets) {
          const policy = policyOf(target.slot);
          const report = await validateCertificate({
            leafAndChain: target.material.certChainPem,
            privateKey: target.material.keyPem,
            hostnames: options.hostname.length > 0 ? options.hostname : policy.hostnames,
            trustAnchors: policy.trustAnchors,
            allowSelfSigned: policy.allowSelfSigned,
          });
          results.push({ slot: target.slot, label: target.label, report });
          problem ??= failure(report, target.label);
        }
        if (options.json) {
          out(
            JSON.stringify(
              results.map((r) => ({ slot: r.slot, file: file ?? null, report: reportView(r.report) })),
              null,
              2,
            ),
          );
        } else {
          results.forEach((r, index) => {
            if (index > 0) out();
            const names = options.hostname.length > 0 ? options.hostname : slotHostnames(app.config, r.slot);
            out(`${r.label}: ${r.report.summary.subject}${names.length > 0 ? `, checked for ${names.join(', ')}` : ''}`);
            printReport(r.report);
          });
        }
        if (problem) throw problem;
      },
    );

  cert
    .command('rollback')
    .description('make the previous certificate current again (run twice to undo)')
    .option('--slot <slot>', 'federation or file-proxy', 'federation')
    .option('--force', 'even if the previous certificate fails the checks now (e.g. it has expired)')
    .action(async (options: { slot: string; force?: boolean }, command: Command) => {
      const slot = parseSlot(options.slot);
      const app = appliance(command);
      const result = await app.store.rollback(slot, { force: options.force === true });
      await audit(app.dataDir, {
        actor: cliActor,
        action: 'cert.rollback',
        target: slot,
        details: { fingerprint: result.installed.info.fingerprintSha256, force: options.force === true },
      });
      out(`the previous ${slotLabel(slot)} certificate is current again:`);
      for (const line of infoLines(result.installed.info)) out(line);
      const failed = result.report.checks.filter((check) => !check.ok);
      if (failed.length > 0) printChecks(failed);
      out(liveNote);
    });

  const ca = program.command('ca').description('an organisation CA for air-gapped networks: issue server certificates, export the CA for peers');

  ca.command('init')
    .description('create the organisation CA (once); its key is sealed in the data directory, or mode 0600 with --ca-dir')
    .option('--name <cn>', 'CA common name (default "<domain> Consulate CA")')
    .option('--organization <o>', 'subject O')
    .option('--country <c>', 'subject C, two letters')
    .option('--key-type <type>', `${keyAlgorithms.join(', ')} (default ecdsa-p256)`)
    .option('--days <n>', 'validity in days (default 3650)')
    .option('--ca-dir <dir>', 'keep the CA here (e.g. a USB stick) instead of the data directory')
    .action(async (options: { name?: string; organization?: string; country?: string; keyType?: string; days?: string; caDir?: string }, command: Command) => {
      const dataDir = dataDirOf(command);
      const inDataDir = options.caDir === undefined;
      const app = inDataDir ? appliance(command) : undefined;
      const dir = options.caDir ? resolve(options.caDir) : orgCaDir(dataDir);
      const created = await initOrgCa({
        dir,
        kek: inDataDir ? resolveKek(dataDir) : undefined,
        commonName: options.name ?? (app ? `${app.config.domain} Consulate CA` : 'Consulate organisation CA'),
        organization: options.organization,
        country: options.country,
        algorithm: keyAlgorithm(options.keyType),
        validityDays: days(options.days),
      });
      if (app)
        await audit(dataDir, { actor: cliActor, action: 'ca.init', target: created.info.subject, details: { fingerprint: created.info.fingerprintSha256 } });
      out(`created the organisation CA in ${dir}:`);
      for (const line of infoLines(created.info)) out(line);
      out(
        created.sealed
          ? '  key          sealed with this appliance key-encryption key (ca.key.sealed)'
          : `  key          ${join(dir, 'ca.key')} (mode 0600): keep it offline`,
      );
      out(
        `next: \`consulate ca issue --install${inDataDir ? '' : ` --ca-dir ${dir}`}\`, then give peers \`consulate ca export\` for \`consulate peer set-ca\``,
      );
    });

  ca.command('issue')
    .description('issue a server certificate from the organisation CA, for this appliance (--install) or from a CSR')
    .option('--hostname <name>', 'DNS name or IP address (repeat; default: the CSR SANs, or the configured hostnames)', collect, [])
    .option('--csr <file>', 'sign this request (its key never moves)')
    .option('--key-type <type>', `key type when no CSR is given (default ecdsa-p256)`)
    .option('--days <n>', 'validity in days (default 397, never beyond the CA)')
    .option('--install', 'install it in this appliance (validated like `cert import`)')
    .option('--slot <slot>', 'with --install: federation or file-proxy', 'federation')
    .option('--out-dir <dir>', 'write <hostname>.crt (and .key when made here); default . unless --install')
    .option('--ca-dir <dir>', 'the CA made with `ca init --ca-dir` (default: the data directory)')
    .action(
      async (
        options: { hostname: string[]; csr?: string; keyType?: string; days?: string; install?: boolean; slot: string; outDir?: string; caDir?: string },
        command: Command,
      ) => {
        const dataDir = dataDirOf(command);
        const slot = parseSlot(options.slot);
        const needsAppliance = options.install === true || options.caDir === undefined || (options.hostname.length === 0 && !options.csr);
        const app = needsAppliance ? appliance(command) : undefined;
        const dir = options.caDir ? resolve(options.caDir) : orgCaDir(dataDir);
        const caFiles = await loadOrgCa(dir, () => resolveKek(dataDir, process.env, { create: false }));
        const csrPem = options.csr ? readInput(options.csr, 'CSR file').toString('utf8') : undefined;
        const hostnames = options.hostname.length > 0 ? options.hostname : csrPem ? undefined : applianceHostnames((app as Appliance).config);
        if (hostnames !== undefined && hostnames.length === 0)
          throw new CertError('hostname_invalid', 'no hostname: pass --hostname, or set federation.hostname in the configuration');
        const issued = await issueServerCertificate({
          ca: caFiles,
          hostnames,
          csrPem,
          algorithm: keyAlgorithm(options.keyType),
          validityDays: days(options.days),
        });
        if (app)
          await audit(dataDir, {
            actor: cliActor,
            action: 'ca.issue',
            target: issued.info.sans.join(','),
            details: { serial: issued.info.serialNumber, fingerprint: issued.info.fingerprintSha256 },
          });
        out(`issued by ${caFiles.info.subject}:`);
        for (const line of infoLines(issued.info)) out(line);
        const outDir = options.outDir ?? (options.install ? undefined : '.');
        if (outDir) {
          await mkdir(outDir, { recursive: true });
          const name = (issued.info.sans[0] ?? 'server').replace(/^\*\./, 'wildcard.');
          const certPath = resolve(outDir, `${name}.crt`);
          await writeFile(certPath, issued.chainPem);
          out(`wrote ${certPath} (certificate and CA)`);
          if (issued.keyPem) {
            await writeFile(resolve(outDir, `${name}.key`), issued.keyPem, { mode: 0o600 });
            out(`wrote ${resolve(outDir, `${name}.key`)} (mode 0600)`);
          }
        }
        if (options.install && app) {
          const prepared = issued.keyPem
            ? { material: { certChainPem: issued.chainPem, keyPem: issued.keyPem }, pendingKeyPath: undefined }
            : await prepareImport(app.dataDir, app.store, { bundle: issued.chainPem });
          // A CA kept outside the data directory is trusted for this install; peers need it too (`ca export`).
          const result = await refusing(slot, false, () => install(app, slot, prepared.material, options.caDir ? [caFiles.certPem] : []));
          await removePendingKey(prepared.pendingKeyPath);
          await audit(dataDir, {
            actor: cliActor,
            action: 'cert.install',
            target: slot,
            details: { fingerprint: result.installed.info.fingerprintSha256, subject: result.installed.info.subject, format: 'private-ca' },
          });
          out(`installed in the ${slotLabel(slot)} slot; ${liveNote}`);
        }
      },
    );

  ca.command('export')
    .description('print the CA certificate (never the key) for peers: they run `consulate peer set-ca <your domain> <file>`')
    .option('--out <file>', 'write it to this file instead of printing it')
    .option('--ca-dir <dir>', 'the CA made with `ca init --ca-dir` (default: the data directory)')
    .action(async (options: { out?: string; caDir?: string }, command: Command) => {
      const dir = options.caDir ? resolve(options.caDir) : orgCaDir(dataDirOf(command));
      const pem = await exportOrgCa(dir);
      if (!options.out) {
        process.stdout.write(pem);
        return;
      }
      await writeFile(options.out, pem);
      const described = await describeOrgCa(dir);
      out(`wrote ${resolve(options.out)}: ${described?.info.subject ?? ''}, SHA-256 ${described?.info.fingerprintSha256 ?? ''}`);
      out('peers add it with `consulate peer set-ca <this domain> <file>`; compare the fingerprint with them out of band');
    });
}
