import { accessSync, constants, mkdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { ConsulateError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { latestVersion, migrations as defaultMigrations, type Migration } from './migrations.js';
import type { Database } from './schema.js';

export const databaseFileName = 'consulate.db';
/**
 * SQLite's page cache per connection, KiB: SQLite's own default. better-sqlite3 builds SQLite with
 * 16 MiB, and under load the queue tables fill it: 10–25 MB of the appliance's peak RSS. The hot
 * pages are the tails of a few B-trees; everything else is in the OS page cache anyway
 * (docs/operations.md, Memory).
 */
const PAGE_CACHE_KIB = 2000;

export interface Store {
  db: Kysely<Database>;
  /** The raw handle for the few hot paths that need synchronous transactions. */
  sqlite: BetterSqlite3.Database;
  path: string;
  schemaVersion: number;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  dataDir: string;
  logger: Logger;
  migrations?: readonly Migration[];
  now?: () => Date;
}

/** Creates the data directory if needed and proves it is writable, before anything is opened. */
export function ensureDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    accessSync(dataDir, constants.W_OK);
    const probe = join(dataDir, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (error) {
    throw new ConsulateError('data_dir_not_writable', `data directory ${dataDir} is not writable: ${(error as Error).message}`, { cause: error });
  }
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  ensureDataDir(options.dataDir);
  const path = join(options.dataDir, databaseFileName);
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL is durable across process crashes (what our acks promise); FULL adds
  // power-loss durability at a large write cost. Documented in docs/operations.md.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    const schemaVersion = await migrate(db, sqlite, path, options);
    return {
      db,
      sqlite,
      path,
      schemaVersion,
      async close() {
        await db.destroy();
      },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

async function migrate(db: Kysely<Database>, sqlite: BetterSqlite3.Database, path: string, options: OpenStoreOptions): Promise<number> {
  const list = options.migrations ?? defaultMigrations;
  const latest = options.migrations ? list.reduce((max, m) => Math.max(max, m.version), 0) : latestVersion;
  await db.schema
    .createTable('consulate_migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('appliedAt', 'text', (c) => c.notNull())
    .execute();
  const row = await db
    .selectFrom('consulate_migrations')
    .select(sql<number>`max(version)`.as('version'))
    .executeTakeFirst();
  const current = row?.version ?? 0;
  if (current > latest) {
    throw new ConsulateError(
      'db_too_new',
      `database ${path} is at schema version ${current}, newer than this Consulate understands (${latest}); upgrade Consulate or restore a backup — nothing was changed`,
    );
  }
  const pending = list.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return current;
  if (current > 0) {
    const backup = `${path}.v${current}-${(options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '')}.bak`;
    await sqlite.backup(backup);
    options.logger.info({ backup, from: current, to: latest }, 'database backed up before migration');
  }
  for (const migration of pending) {
    try {
      await db.transaction().execute(async (trx) => {
        await migration.up(trx);
        await trx
          .insertInto('consulate_migrations')
          .values({ version: migration.version, name: migration.name, appliedAt: (options.now?.() ?? new Date()).toISOString() })
          .execute();
      });
    } catch (error) {
      throw new ConsulateError(
        'db_migration_failed',
        `migration ${migration.version} (${migration.name}) failed and was rolled back: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    options.logger.debug({ version: migration.version, name: migration.name }, 'migration applied');
  }
  return latest;
}
