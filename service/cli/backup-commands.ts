import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  backupContents,
  backupFileName,
  collectBackup,
  minPassphraseLength,
  openBackup,
  restoreBackup,
  sealBackup,
  type BackupContents,
} from '../backup/backup.js';
import { openCertStore } from '../certs/local.js';
import { validateConfig } from '../config/load.js';
import { ConsulateError } from '../errors.js';
import { version } from '../version.js';
import { withLocal } from './federation-commands.js';
import { cliActor, confirm, out, promptHidden, readInput, secretFromOptions } from './io.js';

interface PassphraseOptions {
  passphraseEnv?: string;
  passphraseFile?: string;
}

/** --passphrase-env, --passphrase-file, or asked twice (for a new backup) on a terminal. */
async function passphrase(options: PassphraseOptions, twice: boolean): Promise<string> {
  const given = secretFromOptions('passphrase', options.passphraseEnv, options.passphraseFile);
  if (given !== undefined) return given;
  if (!process.stdin.isTTY) throw new ConsulateError('bad_request', 'no passphrase: give --passphrase-env VAR or --passphrase-file FILE');
  const first = await promptHidden('backup passphrase: ');
  if (twice && (await promptHidden('the same passphrase again: ')) !== first)
    throw new ConsulateError('bad_request', 'the two passphrases differ; nothing was written');
  return first;
}

function printContents(c: BackupContents): void {
  out(`backup of   ${c.domain}, made ${c.createdAt} by Consulate ${c.consulateVersion}`);
  for (const k of c.identities) out(`identity    ${k.fingerprint} (${k.status}, since ${k.createdAt})`);
  out(
    `peers       ${c.peers.length === 0 ? 'none' : c.peers.map((p) => `${p.domain} (${p.state}, ${p.pins} pinned key${p.pins === 1 ? '' : 's'})`).join(', ')}`,
  );
  out(`API keys    ${c.apiKeys.length === 0 ? 'none' : c.apiKeys.map((k) => `${k.name}${k.revoked ? ' (revoked)' : ''}`).join(', ')}`);
  out(`directory   ${c.directoryUsers} user${c.directoryUsers === 1 ? '' : 's'}`);
  for (const cert of c.certificates) out(`certificate ${cert.slot}: ${cert.subject} for ${cert.sans.join(', ')}, expires ${cert.notAfter}`);
  if (c.certificates.length === 0) out('certificate none');
  out(`password    ${c.adminPassword ? 'admin password included' : 'no admin password'}`);
  out(`settings    ${c.settings.length === 0 ? 'none (embedded defaults)' : c.settings.join(', ')}`);
}

function passphraseOptions(command: Command): Command {
  return command
    .option('--passphrase-env <var>', 'read the backup passphrase from this environment variable')
    .option('--passphrase-file <file>', 'read the backup passphrase from the first line of this file');
}

export function addBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description('encrypted backup and restore of the whole configuration (keys, whitelist, API keys, certificates, settings)');
  passphraseOptions(
    backup
      .command('create')
      .description(`write an encrypted backup; the passphrase (at least ${minPassphraseLength} characters) cannot be recovered`)
      .option('--out <file>', 'where to write it (default: consulate-<domain>-<time>.consulate-backup here)'),
  ).action(async (options: PassphraseOptions & { out?: string }, command: Command) =>
    withLocal(command, async ({ config, dataDir, store, identities }) => {
      const secret = await passphrase(options, true);
      const certs = openCertStore(dataDir, config);
      const payload = await collectBackup({
        store,
        identities,
        dataDir,
        consulateVersion: version,
        domain: config.domain,
        currentCertificate: (slot) => certs.current(slot),
      });
      const file = options.out ?? backupFileName(config.domain);
      writeFileSync(file, await sealBackup(payload, secret), { mode: 0o600, flag: options.out ? 'w' : 'wx' });
      printContents(backupContents(payload));
      out(`written to ${file}`);
    }),
  );
  passphraseOptions(
    backup.command('show').description('decrypt a backup and list what it holds; changes nothing').argument('<file>', 'the .consulate-backup file'),
  ).action(async (file: string, options: PassphraseOptions) => {
    printContents(backupContents(await openBackup(readInput(file, 'backup').toString('utf8'), await passphrase(options, false))));
  });
  passphraseOptions(
    backup
      .command('restore')
      .description("replace this appliance's configuration with a backup's; the current one is saved first under <data-dir>/backups")
      .argument('<file>', 'the .consulate-backup file')
      .option('--yes', 'do not ask (scripts)'),
  ).action(async (file: string, options: PassphraseOptions & { yes?: boolean }, command: Command) =>
    withLocal(command, async ({ config, dataDir, store, identities }) => {
      const secret = await passphrase(options, false);
      const payload = await openBackup(readInput(file, 'backup').toString('utf8'), secret);
      printContents(backupContents(payload));
      if (!options.yes) {
        out('Restoring replaces the identity keys, whitelist, API keys, directory, admin password, certificates and settings. Queues and the audit log stay.');
        if (!(await confirm(`Type the backup's domain (${payload.domain}) to restore: `, payload.domain)))
          throw new ConsulateError('confirmation_required', 'not confirmed: nothing was changed (use --yes in scripts)');
      }
      // Certificates are checked against the backup's own host names, which take effect with its settings.
      const certs = openCertStore(dataDir, payload.config ? validateConfig(payload.config) : config);
      const current = openCertStore(dataDir, config);
      const result = await restoreBackup(
        {
          store,
          identities,
          dataDir,
          consulateVersion: version,
          domain: config.domain,
          currentCertificate: (slot) => current.current(slot),
          installCertificate: async (slot, material) => void (await certs.install(slot, material)),
          actor: cliActor,
        },
        payload,
        secret,
      );
      for (const skipped of result.certificatesSkipped) out(`not restored: the ${skipped.slot} certificate: ${skipped.code}: ${skipped.message}`);
      out(`the configuration before is saved in ${result.savedAs} (same passphrase)`);
      out(
        result.restartRequired
          ? 'restored; restart the service (ports, addresses and the domain apply at start)'
          : 'restored; a running service picks the change up within a second',
      );
    }),
  );
}
