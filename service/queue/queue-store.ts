import type BetterSqlite3 from 'better-sqlite3';
import type { Envelope } from '../link/frames.js';

export interface OutboxRow {
  seq: number;
  peer: string;
  envId: string;
  sender: string;
  recipients: string;
  type: Envelope['type'];
  ts: number;
  body: Uint8Array;
  ref: string | null;
  enqueuedAt: number;
  expiresAt: number;
}

export interface InboxRow {
  seq: number;
  envId: string;
  origin: string;
  sender: string;
  recipients: string;
  type: string;
  ts: number;
  body: Uint8Array;
  ref: string | null;
  receivedAt: number;
}

export interface Routing {
  peer: string;
  recipients: string[];
}

/** What a peer's deliver batch did, per envelope. */
export interface ReceiveResult {
  stored: string[];
  /** Recalls that removed an original the home had not yet taken. */
  recalledFromInbox: string[];
  /** The inbox rows this batch added, in inbox order, as committed (for pushing without reading them back). */
  inserted: InboxRow[];
}

/** Bytes of recently enqueued rows kept (all peers together), so a batch right after its submission is not read back. */
const RECENT_MAX_BYTES = 8 * 1024 * 1024;
/**
 * Rows per multi-row insert statement, at most. A batch is inserted in chunks whose sizes are
 * powers of two (100 rows: 64 + 32 + 4), so each table needs at most 7 prepared statements instead
 * of one per batch size: a statement for 64 rows of 10 columns holds about 100 KB of SQLite's
 * memory, and 64 sizes of each table were about 10 MB of an appliance's RSS.
 */
const INSERT_CHUNK = 64;
const INSERT_COLUMNS = {
  outbox: ['peer', 'envId', 'sender', 'recipients', 'type', 'ts', 'body', 'ref', 'enqueuedAt', 'expiresAt'],
  routed: ['envId', 'peer', 'sender', 'recipients', 'state', 'at'],
  received: ['origin', 'envId', 'at'],
  inbox: ['envId', 'origin', 'sender', 'recipients', 'type', 'ts', 'body', 'ref', 'receivedAt'],
} as const;

/** [start, end) of each chunk of a batch of `length` rows: the largest power of two that fits, first. */
export function insertChunks(length: number): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  for (let start = 0; start < length;) {
    let size = INSERT_CHUNK;
    while (size > length - start) size >>= 1;
    chunks.push([start, start + size]);
    start += size;
  }
  return chunks;
}

type RetryState = { attempts: number; nextAttemptAt: number; lastError: string | null };

/** What readBatch counts per row on top of its body (ids, addresses, frame overhead). */
const ROW_OVERHEAD = 256;
/** How long plain acknowledgements wait to be deleted together, and how many may wait. */
const SETTLE_DELAY_MS = 10;
const SETTLE_MAX_PENDING = 5000;

/**
 * The durable queues on SQLite, with prepared statements and synchronous transactions:
 * the message hot path must not pay an async query layer per row. The same interface is
 * what a PostgreSQL store would implement (docs/architecture.md).
 */
export class QueueStore {
  /** The most acknowledged envelopes settle sets aside before it deletes them. */
  readonly maxSetAside = SETTLE_MAX_PENDING;
  readonly #db: BetterSqlite3.Database;
  /**
   * Runs `fn` in one transaction and returns what it returns. `db.transaction(fn)` builds four
   * wrappers and defines properties on them each time (about 5 µs and a dozen objects); every
   * transaction of the queue goes through this one, made in the constructor, instead.
   */
  readonly #atomically: <T>(fn: () => T) => T;
  readonly #s: ReturnType<typeof prepare>;
  readonly #depth = new Map<string, number>();
  /**
   * The queued outbox rows of each peer, as committed, in outbox order. When a peer's list
   * holds as many rows as its queue depth, it holds the whole queue and readBatch answers from
   * it; otherwise (rows from before a restart, or more than RECENT_MAX_BYTES queued over all
   * peers) readBatch reads the outbox, and the list stays empty until the queue has drained.
   * Every path that deletes outbox rows drops them here too.
   */
  readonly #recent = new Map<string, { rows: OutboxRow[]; bytes: number }>();
  #recentBytes = 0;
  /** Multi-row insert statements by table and row count. */
  readonly #inserts = new Map<string, BetterSqlite3.Statement>();

  readonly #keepDeliveryRecords: boolean;
  /**
   * Acknowledged envelopes whose outbox rows and delivery records are deleted together in the
   * next flush (SETTLE_DELAY_MS after the first): at a few messages per batch, a commit per ack
   * was a fifth of the sender's work. Until then they are out of the recent-rows list, their
   * depth is already counted down, readBatch skips them, and every other reader of the outbox
   * or the delivery records flushes first. A crash before the flush sends them again after the
   * restart, which the peer's dedupe answers as stored.
   */
  readonly #settled = new Map<string, { ids: Set<string>; counted: number; now: number }>();
  #settledCount = 0;
  #settleTimer: NodeJS.Timeout | undefined;
  /** Recalls that removed something: a settle needs the recall check only if this moved since its batch left. */
  #recalls = 0;
  /**
   * Inbox items the home acknowledged on its stream, deleted in the next write to the inbox (a
   * peer's batch, which commits anyway) or within SETTLE_DELAY_MS; inbox readers skip or flush them.
   */
  readonly #homeAcked = new Set<string>();
  /** Each peer's persisted retry state as last read or written here (null: none). */
  readonly #retry = new Map<string, RetryState | null>();
  #homeAckTimer: NodeJS.Timeout | undefined;

  /** keepDeliveryRecords false: zero retention, a delivery record goes as soon as the peer acked. */
  constructor(db: BetterSqlite3.Database, options: { keepDeliveryRecords?: boolean } = {}) {
    this.#db = db;
    this.#keepDeliveryRecords = options.keepDeliveryRecords ?? true;
    this.#s = prepare(db);
    this.#atomically = db.transaction((fn: () => unknown) => fn()) as <T>(fn: () => T) => T;
    for (const row of this.#s.depthAll.all() as Array<{ peer: string; n: number }>) this.#depth.set(row.peer, row.n);
  }

  depth(peer: string): number {
    return this.#depth.get(peer) ?? 0;
  }

  depths(): Map<string, number> {
    return new Map(this.#depth);
  }

  /** Peers the envelope was already routed to (a resubmission with the same id is a no-op). */
  routedPeers(envId: string): Array<{ peer: string; state: string; sender: string; recipients: string }> {
    this.flushSettled();
    return this.#s.routedFor.all(envId) as Array<{ peer: string; state: string; sender: string; recipients: string }>;
  }

  /** The sender of each of these ids that was already submitted here, in one query. */
  routedSenders(envIds: string[]): Map<string, string> {
    if (envIds.length === 0) return new Map();
    const rows = (envIds.length === 1 ? this.#s.routedFor.all(envIds[0]) : this.#s.routedSenders.all(JSON.stringify(envIds))) as Array<{
      envId?: string;
      sender: string;
    }>;
    return new Map(rows.map((row) => [row.envId ?? (envIds[0] as string), row.sender]));
  }

  /** Enqueues envelopes fanned out per peer, all in one transaction: all stored or none. */
  enqueue(items: Array<{ envelope: Envelope; routes: Routing[] }>, now: number, ttlMs: number): void {
    const added: OutboxRow[] = [];
    for (const { envelope, routes } of items) {
      for (const route of routes) {
        added.push({
          seq: 0, // assigned by the insert
          peer: route.peer,
          envId: envelope.id,
          sender: envelope.from,
          recipients: JSON.stringify(route.recipients),
          type: envelope.type,
          ts: envelope.ts,
          body: envelope.body,
          ref: envelope.ref ?? null,
          enqueuedAt: now,
          expiresAt: now + ttlMs,
        });
      }
    }
    this.#atomically(() => {
      // Many rows per statement: the per-call cost of a prepared statement is most of a small row's.
      for (const [start, end] of insertChunks(added.length)) {
        const chunk = added.slice(start, end);
        const outboxParams: unknown[] = [];
        const routedParams: unknown[] = [];
        for (const r of chunk) {
          outboxParams.push(r.peer, r.envId, r.sender, r.recipients, r.type, r.ts, r.body, r.ref, r.enqueuedAt, r.expiresAt);
          routedParams.push(r.envId, r.peer, r.sender, r.recipients, 'queued', now);
        }
        const info = this.#multiInsert('outbox', chunk.length).run(...outboxParams);
        if (info.changes !== chunk.length) throw new Error(`outbox insert stored ${info.changes} of ${chunk.length} rows`);
        // One statement, one writer: AUTOINCREMENT numbers its rows consecutively, ending here.
        const last = Number(info.lastInsertRowid);
        chunk.forEach((r, i) => (r.seq = last - chunk.length + 1 + i));
        this.#multiInsert('routed', chunk.length).run(...routedParams);
      }
    });
    // Only now, after the commit: the rows exist.
    for (const row of added) {
      this.#depth.set(row.peer, this.depth(row.peer) + 1);
      this.#remember(row);
    }
  }

  #multiInsert(table: keyof typeof INSERT_COLUMNS, rows: number): BetterSqlite3.Statement {
    const key = `${table}:${rows}`;
    let statement = this.#inserts.get(key);
    if (!statement) {
      const columns = INSERT_COLUMNS[table];
      const tuple = `(${columns.map(() => '?').join(', ')})`;
      statement = this.#db.prepare(`insert into ${table} (${columns.join(', ')}) values ${Array.from({ length: rows }, () => tuple).join(', ')}`);
      this.#inserts.set(key, statement);
    }
    return statement;
  }

  #remember(row: OutboxRow): void {
    let recent = this.#recent.get(row.peer);
    if (!recent) this.#recent.set(row.peer, (recent = { rows: [], bytes: 0 }));
    // Only while the list is the whole queue (the depth already counts this row): a peer whose
    // queue outgrew the budget is served from the outbox until its queue is empty again.
    if (recent.rows.length !== this.depth(row.peer) - 1) return;
    recent.rows.push(row);
    this.#account(recent, row.body.length + ROW_OVERHEAD);
    if (this.#recentBytes > RECENT_MAX_BYTES) this.#evict(recent);
  }

  /** Over the budget whole lists go, the growing peer's first, so the memory is really freed. */
  #evict(first: { rows: OutboxRow[]; bytes: number }): void {
    for (const list of [first, ...this.#recent.values()]) {
      if (list.rows.length === 0) continue;
      this.#account(list, -list.bytes);
      list.rows = [];
      if (this.#recentBytes <= RECENT_MAX_BYTES) return;
    }
  }

  #account(list: { bytes: number }, bytes: number): void {
    list.bytes += bytes;
    this.#recentBytes += bytes;
  }

  /** Drops rows that left the outbox from the recent list (after the deleting transaction committed). */
  #forget(peer: string, envIds: Iterable<string>): void {
    const recent = this.#recent.get(peer);
    if (!recent) return;
    const gone = new Set(envIds);
    if (gone.size === 0) return;
    recent.rows = recent.rows.filter((row) => {
      if (!gone.has(row.envId)) return true;
      this.#account(recent, -(row.body.length + ROW_OVERHEAD));
      return false;
    });
  }

  #dropRecent(peer: string): void {
    const recent = this.#recent.get(peer);
    if (recent) this.#account(recent, -recent.bytes);
    this.#recent.delete(peer);
  }

  /** The rows after `afterSeq` from the recent list, when it holds the peer's whole queue. */
  #recentAfter(peer: string, afterSeq: number, limit: number): OutboxRow[] | undefined {
    const recent = this.#recent.get(peer);
    if (!recent || recent.rows.length !== this.depth(peer)) return undefined;
    const rows = recent.rows;
    // Binary search for the first row after afterSeq (rows are in seq order).
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((rows[mid] as OutboxRow).seq > afterSeq) hi = mid;
      else lo = mid + 1;
    }
    return rows.slice(lo, lo + limit);
  }

  /**
   * The oldest queued envelopes for a peer after outbox position `afterSeq` (batches already in
   * flight), within the count and byte limits; `complete`: nothing else was queued when they were read.
   */
  readBatch(peer: string, limit: number, maxBytes: number, afterSeq = -1): { rows: OutboxRow[]; complete: boolean } {
    const settled = this.#settled.get(peer)?.ids;
    for (let after = afterSeq; ;) {
      const rows = this.#recentAfter(peer, after, limit) ?? (this.#s.batch.all(peer, after, limit) as OutboxRow[]);
      let bytes = 0;
      let skipped = 0;
      const out: OutboxRow[] = [];
      for (const row of rows) {
        if (settled?.has(row.envId)) {
          skipped++;
          continue;
        }
        bytes += row.body.length + ROW_OVERHEAD;
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(row);
      }
      // A whole read of acknowledgements set aside for deletion: read on past them. An empty batch
      // that is not complete would have the drain read the same rows again without end, and the
      // timer that deletes them would never get its turn.
      if (out.length === 0 && rows.length === limit) {
        after = (rows.at(-1) as OutboxRow).seq;
        continue;
      }
      return { rows: out, complete: rows.length < limit && out.length + skipped === rows.length };
    }
  }

  /** The ids at the head of a peer's queue, oldest first (what may have been on its way when the process stopped). */
  headIds(peer: string, limit: number): string[] {
    return (this.#s.headIds.all(peer, limit) as Array<{ envId: string }>).map((r) => r.envId);
  }

  /** Which of these envelopes the home recalled from this peer's queue (while they were on their way). */
  recalledAmong(peer: string, envIds: string[]): Array<{ envId: string; sender: string; recipients: string[] }> {
    if (envIds.length === 0) return [];
    return (this.#s.recalledAmong.all(peer, JSON.stringify(envIds)) as Array<{ envId: string; sender: string; recipients: string }>).map((r) => ({
      envId: r.envId,
      sender: r.sender,
      recipients: JSON.parse(r.recipients) as string[],
    }));
  }

  /** Bumped by every recall that removed an envelope from a queue (see settle's recallsAtSend). */
  get recalls(): number {
    return this.#recalls;
  }

  /**
   * After the peer's ack: stored ones leave the outbox; rejected ones become undeliverable events.
   * `recallsAtSend`: `recalls` when the batch left; if no recall happened since, none of it can
   * have been recalled on its way, and a plain ack is deleted with the next flush.
   */
  settle(
    peer: string,
    stored: string[],
    failed: Array<{ envId: string; code: string; reason: string }>,
    now: number,
    ownDomain: string,
    recallsAtSend?: number,
  ): { recalledInFlight: Array<{ envId: string; sender: string; recipients: string[] }> } {
    if (failed.length === 0 && recallsAtSend === this.#recalls) {
      let pending = this.#settled.get(peer);
      if (!pending) this.#settled.set(peer, (pending = { ids: new Set(), counted: 0, now }));
      for (const id of stored) pending.ids.add(id);
      pending.now = now;
      // Counted down now, corrected by the rows the flush really deletes.
      pending.counted += stored.length;
      this.#depth.set(peer, Math.max(0, this.depth(peer) - stored.length));
      this.#forget(peer, stored);
      this.#settledCount += stored.length;
      if (this.#settledCount >= SETTLE_MAX_PENDING) this.flushSettled();
      else
        this.#settleTimer ??= retrying(
          () => this.flushSettled(),
          SETTLE_DELAY_MS,
          (timer) => (this.#settleTimer = timer),
        );
      return { recalledInFlight: [] };
    }
    this.flushSettled();
    const { removed, recalledInFlight } = this.#atomically(() => {
      // One statement per table for the whole ack, not one per envelope.
      const ids = JSON.stringify(stored);
      // Recalled while the batch was on its way: removed here, but the peer has stored it, so a
      // recall envelope has to follow it there.
      const recalledInFlight = this.recalledAmong(peer, stored);
      let removed = this.#s.deleteOutboxMany.run(peer, ids).changes;
      if (this.#keepDeliveryRecords) this.#s.setRoutedMany.run('delivered', now, peer, ids);
      else this.#s.deleteRoutedMany.run(peer, ids);
      for (const f of failed) {
        const row = this.#s.getOutbox.get(peer, f.envId) as OutboxRow | undefined;
        removed += this.#s.deleteOutbox.run(peer, f.envId).changes;
        this.#s.setRouted.run('failed', now, f.envId, peer);
        if (row) this.#undeliverable(row, f.code, f.reason, now, ownDomain);
      }
      return { removed, recalledInFlight };
    });
    this.#depth.set(peer, Math.max(0, this.depth(peer) - removed));
    this.#forget(peer, [...stored, ...failed.map((f) => f.envId)]);
    return { recalledInFlight };
  }

  /** Deletes the acknowledged envelopes settle set aside; call before the process stops. */
  flushSettled(): void {
    if (this.#settled.size === 0) return;
    const pending = [...this.#settled];
    // Set aside until the delete commits: a failed flush leaves them for the next one.
    const removed = this.#atomically(() =>
      pending.map(([peer, { ids, now }]) => {
        const json = JSON.stringify([...ids]);
        if (this.#keepDeliveryRecords) this.#s.setRoutedMany.run('delivered', now, peer, json);
        else this.#s.deleteRoutedMany.run(peer, json);
        return this.#s.deleteOutboxMany.run(peer, json).changes;
      }),
    );
    this.#settled.clear();
    this.#settledCount = 0;
    clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    pending.forEach(([peer, { counted }], i) => {
      const gone = removed[i] as number;
      if (gone !== counted) this.#depth.set(peer, Math.max(0, this.depth(peer) + counted - gone));
    });
  }

  /** Envelopes past their TTL leave the outbox and tell the sender's home. */
  expire(now: number, ownDomain: string): number {
    this.flushSettled();
    const rows = this.#atomically(() => {
      const expired = this.#s.expired.all(now) as OutboxRow[];
      for (const row of expired) {
        this.#s.deleteOutbox.run(row.peer, row.envId);
        this.#s.setRouted.run('expired', now, row.envId, row.peer);
        this.#undeliverable(row, 'expired', `not delivered to ${row.peer} before its time to live ran out`, now, ownDomain);
      }
      return expired;
    });
    for (const row of rows) {
      this.#depth.set(row.peer, Math.max(0, this.depth(row.peer) - 1));
      this.#forget(row.peer, [row.envId]);
    }
    return rows.length;
  }

  #undeliverable(row: OutboxRow, code: string, reason: string, now: number, ownDomain: string): void {
    const body = Buffer.from(JSON.stringify({ envId: row.envId, peer: row.peer, recipients: JSON.parse(row.recipients) as string[], code, reason }));
    this.#s.insertInbox.run(`${row.envId}.${row.peer}`, ownDomain, row.sender, JSON.stringify([row.sender]), 'undeliverable', now, body, row.envId, now);
  }

  /**
   * Recall of an envelope the home submitted: removed where it still waits; returns the
   * peers it already reached, to which a recall envelope must go.
   */
  recall(envId: string, now: number): { removedFrom: string[]; reached: Array<{ peer: string; recipients: string[] }> } {
    this.flushSettled();
    const result = this.#atomically(() => {
      const removedFrom: string[] = [];
      const reached: Array<{ peer: string; recipients: string[] }> = [];
      for (const route of this.routedPeers(envId)) {
        if (route.state === 'queued' && this.#s.deleteOutbox.run(route.peer, envId).changes > 0) {
          this.#s.setRouted.run('recalled', now, envId, route.peer);
          removedFrom.push(route.peer);
        } else if (route.state === 'delivered') {
          reached.push({ peer: route.peer, recipients: JSON.parse(route.recipients) as string[] });
        }
      }
      return { removedFrom, reached };
    });
    if (result.removedFrom.length > 0) this.#recalls++;
    for (const peer of result.removedFrom) {
      this.#depth.set(peer, Math.max(0, this.depth(peer) - 1));
      this.#forget(peer, [envId]);
    }
    return result;
  }

  /**
   * Stores a peer's batch in one transaction (the ack is sent only after it commits).
   * Ids seen before are acknowledged again without storing twice.
   */
  receive(origin: string, envelopes: Envelope[], now: number): ReceiveResult {
    const result = this.#atomically(() => {
      // The home's acks first: an original it already took is not 'removed before the home took it' by a recall here.
      this.#applyHomeAcks();
      const stored: string[] = [];
      const recalledFromInbox: string[] = [];
      let inserted: InboxRow[] = [];
      const ids = JSON.stringify(envelopes.map((e) => e.id));
      // Ids taken before (the dedupe table), and ids still in the inbox whose dedupe id has
      // already expired: both are acknowledged again without storing anything twice.
      const seen = new Set((this.#s.receivedAmong.all(origin, ids) as Array<{ envId: string }>).map((r) => r.envId));
      const inInbox = new Set((this.#s.inboxAmong.all(origin, ids) as Array<{ envId: string }>).map((r) => r.envId));
      let marks: string[] = [];
      let rows: InboxRow[] = [];
      const flush = () => {
        for (const [start, end] of insertChunks(marks.length)) {
          const chunk = marks.slice(start, end);
          this.#multiInsert('received', chunk.length).run(...chunk.flatMap((id) => [origin, id, now]));
        }
        for (const [start, end] of insertChunks(rows.length)) {
          const chunk = rows.slice(start, end);
          const info = this.#multiInsert('inbox', chunk.length).run(
            ...chunk.flatMap((r) => [r.envId, origin, r.sender, r.recipients, r.type, r.ts, r.body, r.ref, now]),
          );
          // One statement, one writer: AUTOINCREMENT numbers its rows consecutively, ending here.
          const last = Number(info.lastInsertRowid);
          chunk.forEach((r, i) => (r.seq = last - chunk.length + 1 + i));
          inserted.push(...chunk);
        }
        marks = [];
        rows = [];
      };
      for (const e of envelopes) {
        stored.push(e.id);
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        marks.push(e.id);
        if (e.type === 'recall' && e.ref) {
          // The original may be earlier in this very batch: store what came before first.
          flush();
          if (this.#s.deleteInboxByEnv.run(origin, e.ref).changes > 0) {
            recalledFromInbox.push(e.ref);
            inserted = inserted.filter((row) => row.envId !== e.ref);
          }
        }
        if (inInbox.has(e.id)) continue;
        rows.push({
          seq: 0,
          envId: e.id,
          origin,
          sender: e.from,
          recipients: JSON.stringify(e.to),
          type: e.type,
          ts: e.ts,
          body: e.body,
          ref: e.ref ?? null,
          receivedAt: now,
        });
      }
      flush();
      return { stored, recalledFromInbox, inserted };
    });
    this.#homeAcksApplied();
    return result;
  }

  /** Whether any inbox row lies strictly between two positions (rows a stream has not seen yet). */
  inboxHasBetween(after: number, before: number): boolean {
    return before - after > 1 && this.#s.inboxBetween.get(after, before) !== undefined;
  }

  /** Unacknowledged inbound items after a cursor, oldest first. */
  inbox(after: number, limit: number): InboxRow[] {
    this.flushHomeAcks();
    return this.#s.inboxAfter.all(after, limit) as InboxRow[];
  }

  /** The home took these: they leave the inbox (the dedupe ids stay). Returns how many were there. */
  ack(envIds: string[]): number {
    const n = this.#atomically(() => {
      this.#applyHomeAcks();
      return this.#s.ackInboxMany.run(JSON.stringify(envIds)).changes;
    });
    this.#homeAcksApplied();
    return n;
  }

  /** The home took these (on its stream, where no count is answered): they leave the inbox with the next write. */
  ackLater(envIds: string[]): void {
    for (const id of envIds) this.#homeAcked.add(id);
    if (this.#homeAcked.size >= SETTLE_MAX_PENDING) this.flushHomeAcks();
    else
      this.#homeAckTimer ??= retrying(
        () => this.flushHomeAcks(),
        SETTLE_DELAY_MS,
        (timer) => (this.#homeAckTimer = timer),
      );
  }

  flushHomeAcks(): void {
    if (this.#homeAcked.size === 0) return;
    this.#atomically(() => this.#applyHomeAcks());
    this.#homeAcksApplied();
  }

  /** Inside a transaction: deletes the acknowledged items; after the commit, call #homeAcksApplied. */
  #applyHomeAcks(): void {
    if (this.#homeAcked.size > 0) this.#s.ackInboxMany.run(JSON.stringify([...this.#homeAcked]));
  }

  #homeAcksApplied(): void {
    this.#homeAcked.clear();
    clearTimeout(this.#homeAckTimer);
    this.#homeAckTimer = undefined;
  }

  inboxDepth(): number {
    this.flushHomeAcks();
    return (this.#s.inboxCount.get() as { n: number }).n;
  }

  oldestQueued(peer: string): number | undefined {
    this.flushSettled();
    return (this.#s.oldest.get(peer) as { at: number | null } | undefined)?.at ?? undefined;
  }

  /** An operator's purge of one peer's queue: each envelope becomes an undeliverable event for its sender. */
  purgeQueue(peer: string, now: number, ownDomain: string): number {
    this.flushSettled();
    const n = this.#atomically(() => {
      const rows = this.#s.allForPeer.all(peer) as OutboxRow[];
      for (const row of rows) {
        this.#s.deleteOutbox.run(peer, row.envId);
        this.#s.setRouted.run('purged', now, row.envId, peer);
        this.#undeliverable(row, 'purged', `the administrator purged the queue for ${peer}`, now, ownDomain);
      }
      return rows.length;
    });
    this.#depth.delete(peer);
    this.#dropRecent(peer);
    return n;
  }

  /** Sever: everything queued for or routed to the peer goes. */
  purgePeer(peer: string): number {
    this.flushSettled();
    const n = this.#atomically(() => {
      const purged = this.#s.purgeOutbox.run(peer).changes;
      this.#s.purgeRouted.run(peer);
      this.#s.purgeRetry.run(peer);
      return purged;
    });
    this.#depth.delete(peer);
    this.#retry.delete(peer);
    this.#dropRecent(peer);
    return n;
  }

  /** Retry state survives restarts so a flapping peer is not hammered after each restart. */
  retryState(peer: string): RetryState | undefined {
    // Read before every deliver batch: remembered (only this store writes the table), so a
    // message does not cost a query for a row that is almost never there.
    if (!this.#retry.has(peer)) this.#retry.set(peer, (this.#s.getRetry.get(peer) as RetryState | undefined) ?? null);
    return this.#retry.get(peer) ?? undefined;
  }

  setRetryState(peer: string, attempts: number, nextAttemptAt: number, lastError: string | null): void {
    if (attempts === 0) this.#s.purgeRetry.run(peer);
    else this.#s.upsertRetry.run(peer, attempts, nextAttemptAt, lastError);
    this.#retry.set(peer, attempts === 0 ? null : { attempts, nextAttemptAt, lastError });
  }

  /** Drops dedupe ids and delivery records older than their retention cut-offs. */
  prune(receivedBefore: number, routedBefore: number): { received: number; routed: number } {
    this.flushSettled();
    return { received: this.#s.pruneReceived.run(receivedBefore).changes, routed: this.#s.pruneRouted.run(routedBefore).changes };
  }
}

/**
 * Runs `flush` once after `delayMs`; if it throws (a locked or full database), again a second
 * later, and so on, rather than letting the error escape a timer. `track` learns each timer.
 */
function retrying(flush: () => void, delayMs: number, track: (timer: NodeJS.Timeout | undefined) => void): NodeJS.Timeout {
  const timer = setTimeout(() => {
    track(undefined);
    try {
      flush();
    } catch {
      track(retrying(flush, 1000, track));
    }
  }, delayMs);
  timer.unref();
  return timer;
}

function prepare(db: BetterSqlite3.Database) {
  return {
    depthAll: db.prepare('select peer, count(*) as n from outbox group by peer'),
    routedFor: db.prepare('select peer, state, sender, recipients from routed where envId = ?'),
    recalledAmong: db.prepare(
      "select envId, sender, recipients from routed where peer = ? and state = 'recalled' and envId in (select value from json_each(?))",
    ),
    routedSenders: db.prepare('select distinct envId, sender from routed where envId in (select value from json_each(?))'),
    setRouted: db.prepare('update routed set state = ?, at = ? where envId = ? and peer = ?'),
    deleteRouted: db.prepare('delete from routed where envId = ? and peer = ?'),
    batch: db.prepare('select * from outbox where peer = ? and seq > ? order by seq limit ?'),
    headIds: db.prepare('select envId from outbox where peer = ? order by seq limit ?'),
    getOutbox: db.prepare('select * from outbox where peer = ? and envId = ?'),
    deleteOutbox: db.prepare('delete from outbox where peer = ? and envId = ?'),
    deleteOutboxMany: db.prepare('delete from outbox where peer = ? and envId in (select value from json_each(?))'),
    deleteRoutedMany: db.prepare('delete from routed where peer = ? and envId in (select value from json_each(?))'),
    setRoutedMany: db.prepare('update routed set state = ?, at = ? where peer = ? and envId in (select value from json_each(?))'),
    expired: db.prepare('select * from outbox where expiresAt <= ? order by seq limit 1000'),
    receivedAmong: db.prepare('select envId from received where origin = ? and envId in (select value from json_each(?))'),
    inboxAmong: db.prepare('select envId from inbox where origin = ? and envId in (select value from json_each(?))'),
    insertInbox: db.prepare(
      'insert or ignore into inbox (envId, origin, sender, recipients, type, ts, body, ref, receivedAt) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteInboxByEnv: db.prepare('delete from inbox where origin = ? and envId = ?'),
    inboxAfter: db.prepare('select * from inbox where seq > ? order by seq limit ?'),
    inboxBetween: db.prepare('select 1 from inbox where seq > ? and seq < ? limit 1'),
    ackInboxMany: db.prepare('delete from inbox where envId in (select value from json_each(?))'),
    inboxCount: db.prepare('select count(*) as n from inbox'),
    oldest: db.prepare('select min(enqueuedAt) as at from outbox where peer = ?'),
    purgeOutbox: db.prepare('delete from outbox where peer = ?'),
    allForPeer: db.prepare('select * from outbox where peer = ? order by seq'),
    purgeRouted: db.prepare('delete from routed where peer = ?'),
    purgeRetry: db.prepare('delete from peer_retry where peer = ?'),
    getRetry: db.prepare('select attempts, nextAttemptAt, lastError from peer_retry where peer = ?'),
    upsertRetry: db.prepare(
      'insert into peer_retry (peer, attempts, nextAttemptAt, lastError) values (?, ?, ?, ?) on conflict (peer) do update set attempts = excluded.attempts, nextAttemptAt = excluded.nextAttemptAt, lastError = excluded.lastError',
    ),
    pruneReceived: db.prepare('delete from received where at < ?'),
    pruneRouted: db.prepare("delete from routed where at < ? and state != 'queued'"),
  };
}
