import { existsSync, readdirSync } from 'node:fs';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../service/store/database.js';
import { migrations, type Migration } from '../../service/store/migrations.js';
import { createLogger } from '../../service/telemetry/logger.js';
import { tempDir } from '../helpers/service-process.js';

const logger = createLogger({ level: 'silent' });

describe('store', () => {
  it('creates a WAL database at the latest schema', async () => {
    const dataDir = tempDir();
    const store = await openStore({ dataDir, logger });
    expect(store.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    // SQLite's 2 MB page cache (negative: KiB), not better-sqlite3's 16 MB (docs/operations.md, Memory).
    expect(store.sqlite.pragma('cache_size', { simple: true })).toBe(-2000);
    expect(store.schemaVersion).toBe(migrations.at(-1)?.version);
    const created = await store.db.selectFrom('meta').select('value').where('key', '=', 'created_at').executeTakeFirst();
    expect(created?.value).toMatch(/^\d{4}-/);
    await store.close();
    // A fresh database has nothing to lose, so no backup is made.
    expect(readdirSync(dataDir).filter((f) => f.endsWith('.bak'))).toEqual([]);
  });

  it('backs the file up before migrating an existing database, and keeps data', async () => {
    const dataDir = tempDir();
    const first = await openStore({ dataDir, logger });
    await first.db.insertInto('meta').values({ key: 'kept', value: 'yes' }).execute();
    await first.close();

    const next: Migration = {
      version: migrations.length + 1,
      name: 'add a table',
      async up(db) {
        await db.schema
          .createTable('extra')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .execute();
      },
    };
    const second = await openStore({ dataDir, logger, migrations: [...migrations, next] });
    expect(second.schemaVersion).toBe(next.version);
    expect((await second.db.selectFrom('meta').select('value').where('key', '=', 'kept').executeTakeFirst())?.value).toBe('yes');
    await second.close();
    const backups = readdirSync(dataDir).filter((f) => f.endsWith('.bak'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(new RegExp(`^consulate\\.db\\.v${migrations.length}-`));
  });

  it('rolls a failing migration back completely and names it', async () => {
    const dataDir = tempDir();
    await (await openStore({ dataDir, logger })).close();
    const broken: Migration = {
      version: migrations.length + 1,
      name: 'half done',
      async up(db) {
        await db.schema.createTable('half').addColumn('id', 'integer').execute();
        await sql`insert into no_such_table values (1)`.execute(db);
      },
    };
    await expect(openStore({ dataDir, logger, migrations: [...migrations, broken] })).rejects.toMatchObject({
      code: 'db_migration_failed',
      message: expect.stringContaining('half done'),
    });
    const store = await openStore({ dataDir, logger });
    expect(store.schemaVersion).toBe(migrations.at(-1)?.version);
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'half'`.execute(store.db);
    expect(tables.rows).toEqual([]);
    await store.close();
    expect(existsSync(dataDir)).toBe(true);
  });
});
