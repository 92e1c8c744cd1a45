import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { Service } from '../app.js';
import { ConsulateError, isConsulateError } from '../errors.js';
import { configFileName, loadConfig, redact } from '../config/load.js';
import { configKeys } from '../config/schema.js';
import { ensureDataDir, openStore } from '../store/database.js';
import { IdentityStore } from '../identity/identity.js';
import { resolveKek } from '../identity/kek.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { version } from '../version.js';
import { resolveDataDir } from './data-dir.js';
import { addCertCommands } from './cert-commands.js';
import { addBackupCommands } from './backup-commands.js';
import { addFederationCommands } from './federation-commands.js';
import { hasParent, notifyParent, onParentShutdown } from './parent.js';
import { reexecForServe } from './runtime-flags.js';

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

const usageCodes = new Set(['config_invalid', 'config_unreadable']);

interface GlobalOptions {
  dataDir?: string;
  config?: string;
}

function addConfigFlags(command: Command): Command {
  for (const key of configKeys()) {
    const option = new Option(`${key.flag} <value>`, `${key.path} (env ${key.env}, default ${JSON.stringify(key.defaultValue ?? 'unset')})`);
    command.addOption(option);
  }
  return command;
}

function flagValues(options: Record<string, unknown>): Record<string, string | undefined> {
  const flags: Record<string, string | undefined> = {};
  for (const key of configKeys()) {
    const attr = key.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = options[attr];
    if (typeof value === 'string') flags[key.path] = value;
  }
  return flags;
}

function load(global: GlobalOptions, options: Record<string, unknown>) {
  const dataDir = resolveDataDir(global.dataDir);
  const { config, configFile } = loadConfig({ dataDir, configFile: global.config, env: process.env, flags: flagValues(options) });
  return { dataDir, config, configFile };
}

async function serve(global: GlobalOptions, options: Record<string, unknown>): Promise<void> {
  reexecForServe();
  const { dataDir, config } = load(global, options);
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const service = new Service({ config, dataDir, logger });
  try {
    await service.start();
  } catch (error) {
    if (hasParent() && isConsulateError(error)) notifyParent({ type: 'fatal', code: error.code, message: error.message });
    throw error;
  }
  // Before anyone hears that the service is ready: a stop asked for right after must be a clean one.
  installShutdown(service, logger);
  logger.info(
    { adminUrl: service.adminUrl, homeUrl: service.homeUrl, loginUrl: service.loginUrl, domain: config.domain, dataDir, version },
    `Consulate ${version} is running. Admin GUI: ${service.loginUrl}`,
  );
  if (hasParent()) notifyParent({ type: 'ready', adminUrl: service.adminUrl, loginToken: service.loginToken, version });
}

function installShutdown(service: Service, logger: Logger): void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    // The promise of a clean stop within 5 s: past that, exit anyway rather than hang.
    const hardStop = setTimeout(() => {
      logger.error('shutdown took longer than 5 s; exiting');
      process.exit(exitCodes.failure);
    }, 4500);
    hardStop.unref();
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exit(exitCodes.ok);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(exitCodes.failure);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  onParentShutdown(() => stop('parent asked'));
}

async function init(global: GlobalOptions, options: Record<string, unknown> & { force?: boolean }): Promise<void> {
  const { dataDir, config, configFile } = load(global, options);
  ensureDataDir(dataDir);
  const target = configFile ?? join(dataDir, configFileName);
  if (existsSync(target) && !options.force) {
    process.stdout.write(`${target} exists; keeping it (use --force to rewrite it with the given settings)\n`);
  } else {
    writeFileSync(target, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    process.stdout.write(`wrote ${target}\n`);
  }
  const logger = createLogger({ level: 'warn', format: config.log.format, destination: process.stderr });
  const store = await openStore({ dataDir, logger });
  process.stdout.write(`database ${store.path} at schema v${store.schemaVersion}\n`);
  const identities = new IdentityStore(store.db, resolveKek(dataDir));
  const identity = (await identities.hasIdentity()) ? await identities.active() : await identities.create();
  process.stdout.write(`identity key fingerprint ${identity.fingerprint}\n`);
  await store.close();
  process.stdout.write(`Consulate initialised for ${config.domain} in ${dataDir}\nnext: consulate serve --data-dir ${dataDir}\n`);
}

export function buildProgram(): Command {
  const program = new Command('consulate')
    .description('Consulate: federation appliance for end-to-end-encrypted messaging')
    .version(version, '-V, --version')
    .option('--data-dir <dir>', 'data directory (env CONSULATE_DATA_DIR; default: the OS user data dir)')
    .option('--config <file>', `config file (default: <data-dir>/${configFileName})`)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  addConfigFlags(
    program
      .command('serve')
      .description('run the appliance (headless)')
      .action(async (options: Record<string, unknown>, command: Command) => serve(command.optsWithGlobals() as GlobalOptions, options)),
  ).exitOverride();

  addConfigFlags(
    program
      .command('init')
      .description('create the data directory, config file and database')
      .option('--force', 'rewrite an existing config file')
      .action(async (options: Record<string, unknown>, command: Command) => init(command.optsWithGlobals() as GlobalOptions, options)),
  ).exitOverride();

  program
    .command('demo')
    .description('start two federated appliances (a.demo, b.demo) on loopback with demo users')
    .option('--scenario <name>', 'run a scripted exchange and exit: smoke')
    .action(async (options: { scenario?: string }, command: Command) => {
      const { Demo, smokeScenario } = await import('../demo/demo.js');
      if (options.scenario !== undefined && options.scenario !== 'smoke')
        throw new ConsulateError('bad_request', `unknown scenario "${options.scenario}" (known: smoke)`);
      const global = command.optsWithGlobals() as GlobalOptions;
      const print = (line: string) => process.stdout.write(`${line}\n`);
      const logger = createLogger({ level: options.scenario ? 'error' : 'warn', destination: process.stderr });
      const demo = new Demo({ baseDir: global.dataDir, logger, print });
      try {
        await demo.start();
        if (options.scenario) {
          await smokeScenario(demo, print);
          print('smoke scenario passed: every message delivered exactly once and decrypted');
          await demo.stop();
          return;
        }
      } catch (error) {
        await demo.stop();
        throw error;
      }
      for (const side of demo.sides.values()) {
        print(`${side.domain}: admin ${side.service.loginUrl}`);
        print(`${side.domain}: home API ${side.service.homeUrl}  (API key ${side.apiKey})`);
      }
      print('demo running; Ctrl-C stops it');
      const stop = () => void demo.stop().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('openapi', { hidden: true })
    .description('print the home API OpenAPI document (docs/home-api.yaml)')
    .action(async () => {
      const { homeApiYaml } = await import('../home/openapi.js');
      process.stdout.write(homeApiYaml());
    });

  program
    .command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(`consulate ${version} (node ${process.versions.node})\n`);
    });

  addFederationCommands(program);
  addCertCommands(program);
  addBackupCommands(program);

  const config = program.command('config').description('inspect the configuration');
  addConfigFlags(
    config
      .command('print')
      .description('print the effective configuration (file < env < flags) with secrets redacted')
      .action((options: Record<string, unknown>, command: Command) => {
        const { config: effective, configFile } = load(command.optsWithGlobals() as GlobalOptions, options);
        process.stdout.write(`${JSON.stringify({ configFile, ...(redact(effective) as object) }, null, 2)}\n`);
      }),
  ).exitOverride();

  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version print and exit 0; everything else commander rejects is usage.
      process.exitCode = error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
      return;
    }
    if (isConsulateError(error)) {
      process.stderr.write(`consulate: ${error.code}: ${error.message}\n`);
      process.exitCode = usageCodes.has(error.code) ? exitCodes.usage : exitCodes.failure;
      return;
    }
    process.stderr.write(`consulate: internal: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = exitCodes.failure;
  }
}
