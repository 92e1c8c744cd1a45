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
  {
    version: 3,
    name: 'messaging: directory, api keys, queues',
    async up(db) {
      await db.schema
        .createTable('directory')
        .addColumn('user', 'text', (c) => c.primaryKey())
        .addColumn('displayName', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('keyBundle', 'blob', (c) => c.notNull())
        .addColumn('updatedAt', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('secretHash', 'text', (c) => c.notNull())
        .addColumn('createdAt', 'text', (c) => c.notNull())
        .addColumn('revokedAt', 'text')
        .execute();
      // One row per envelope and recipient domain, in submission order per peer.
      await db.schema
        .createTable('outbox')
        // AUTOINCREMENT: a sequence number is never reused, even after the queue empties,
        // so cursors and per-peer order stay monotonic (PostgreSQL: an identity column).
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('peer', 'text', (c) => c.notNull())
        .addColumn('envId', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('recipients', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('body', 'blob', (c) => c.notNull())
        .addColumn('ref', 'text')
        .addColumn('enqueuedAt', 'bigint', (c) => c.notNull())
        .addColumn('expiresAt', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('outbox_peer_seq').on('outbox').columns(['peer', 'seq']).execute();
      await db.schema.createIndex('outbox_peer_env').on('outbox').columns(['peer', 'envId']).unique().execute();
      // Where each submitted envelope was routed: recall and idempotent resubmission use it.
      await db.schema
        .createTable('routed')
        .addColumn('envId', 'text', (c) => c.notNull())
        .addColumn('peer', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('recipients', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('routed_pk', ['envId', 'peer'])
        .execute();
      // Envelopes (and events such as undeliverable) waiting for the home to acknowledge them.
      await db.schema
        .createTable('inbox')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('envId', 'text', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('recipients', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('body', 'blob', (c) => c.notNull())
        .addColumn('ref', 'text')
        .addColumn('receivedAt', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('inbox_origin_env').on('inbox').columns(['origin', 'envId']).unique().execute();
      await db.schema.createIndex('inbox_env').on('inbox').column('envId').execute();
      // Ids already accepted from each peer: redelivery after a lost ack stores nothing twice.
      await db.schema
        .createTable('received')
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('envId', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('received_pk', ['origin', 'envId'])
        .execute();
      await db.schema
        .createTable('peer_retry')
        .addColumn('peer', 'text', (c) => c.primaryKey())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('nextAttemptAt', 'bigint', (c) => c.notNull())
        .addColumn('lastError', 'text')
        .execute();
    },
  },
];

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0);
