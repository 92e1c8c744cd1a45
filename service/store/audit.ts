import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

const genesis = '0'.repeat(64);

function entryHash(prevHash: string, ts: string, entry: Required<AuditEntry>): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, ts, entry.actor, entry.action, entry.target, entry.details]))
    .digest('hex');
}

/**
 * Appends to the hash-chained audit log inside the caller's transaction, so an admin
 * action and its audit line commit together or not at all. Editing or deleting a row
 * breaks the chain, which verifyAuditChain reports.
 */
export async function appendAudit(db: Kysely<Database> | Transaction<Database>, entry: AuditEntry, now = new Date()): Promise<void> {
  const last = await db.selectFrom('audit_log').select('hash').orderBy('id', 'desc').limit(1).executeTakeFirst();
  const prevHash = last?.hash ?? genesis;
  const ts = now.toISOString();
  const full = { actor: entry.actor, action: entry.action, target: entry.target ?? '', details: entry.details ?? {} };
  await db
    .insertInto('audit_log')
    .values({
      ts,
      actor: full.actor,
      action: full.action,
      target: full.target,
      details: JSON.stringify(full.details),
      prevHash,
      hash: entryHash(prevHash, ts, full),
    })
    .execute();
}

export interface AuditRecord {
  id: number;
  ts: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export async function listAudit(db: Kysely<Database>, limit = 200): Promise<AuditRecord[]> {
  const rows = await db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: r.id,
    ts: r.ts,
    actor: r.actor,
    action: r.action,
    target: r.target,
    details: JSON.parse(r.details) as Record<string, unknown>,
  }));
}

/** The id of the first entry whose hash does not follow from its predecessor, or undefined if intact. */
export async function verifyAuditChain(db: Kysely<Database>): Promise<number | undefined> {
  const rows = await db.selectFrom('audit_log').selectAll().orderBy('id', 'asc').execute();
  let prev = genesis;
  for (const r of rows) {
    const expected = entryHash(prev, r.ts, { actor: r.actor, action: r.action, target: r.target, details: JSON.parse(r.details) as Record<string, unknown> });
    if (r.prevHash !== prev || r.hash !== expected) return r.id;
    prev = r.hash;
  }
  return undefined;
}
