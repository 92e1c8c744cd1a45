import { sql, type Kysely } from 'kysely';

export interface Migration {
  version: number;
  name: string;
  // Migrations see the database as it was at their time, not today's typed schema.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  up(db: Kysely<any>): Promise<void>;
}

/**
 * Ordered, append-only. Never edit a released migration: add a new one. Every
 * statement is portable between SQLite and PostgreSQL (no AUTOINCREMENT, no PRAGMA).
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'meta and audit log',
    async up(db) {
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('prevHash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_ts').on('audit_log').column('ts').execute();
      await sql`insert into meta (key, value) values ('created_at', ${new Date().toISOString()})`.execute(db);
    },
  },
  {
    version: 2,
    name: 'identity keys and whitelist',
    async up(db) {
      await db.schema
        .createTable('identity_keys')
        .addColumn('publicKey', 'text', (c) => c.primaryKey())
        .addColumn('sealedSecret', 'text', (c) => c.notNull())
        .addColumn('kekSource', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('createdAt', 'text', (c) => c.notNull())
        .addColumn('retiredAt', 'text')
        .execute();
      await db.schema
        .createTable('peers')
        .addColumn('domain', 'text', (c) => c.primaryKey())
        .addColumn('federationUrl', 'text', (c) => c.notNull())
        .addColumn('fileProxyUrl', 'text')
        .addColumn('relay', 'text')
        .addColumn('capabilities', 'text', (c) => c.notNull())
        .addColumn('limits', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('caBundle', 'text')
        .addColumn('cardIssued', 'text')
        .addColumn('addedBy', 'text', (c) => c.notNull())
        .addColumn('addedAt', 'text', (c) => c.notNull())
        .addColumn('updatedAt', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('peer_keys')
        .addColumn('domain', 'text', (c) => c.notNull().references('peers.domain').onDelete('cascade'))
        .addColumn('publicKey', 'text', (c) => c.notNull())
        .addColumn('notAfter', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('addedAt', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('peer_keys_pk', ['domain', 'publicKey'])
        .execute();
    },
  },
];

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0);
