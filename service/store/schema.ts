import type { Generated } from 'kysely';

/** Table types for the query layer. Each migration that adds a table adds it here too. */
export interface MetaTable {
  key: string;
  value: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  ts: string;
  actor: string;
  action: string;
  target: string;
  details: string;
  prevHash: string;
  hash: string;
}

export interface MigrationTable {
  version: number;
  name: string;
  appliedAt: string;
}

export interface Database {
  meta: MetaTable;
  audit_log: AuditLogTable;
  consulate_migrations: MigrationTable;
}
