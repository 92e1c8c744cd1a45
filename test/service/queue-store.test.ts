import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { ulid } from 'ulid';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../service/link/frames.js';
import { insertChunks, QueueStore, type OutboxRow } from '../../service/queue/queue-store.js';
import { openStore, type Store } from '../../service/store/database.js';
import { createLogger } from '../../service/telemetry/logger.js';
import { tempDir } from '../helpers/service-process.js';

const logger = createLogger({ level: 'silent' });
const PEER = 'b.example';
const HOUR = 3_600_000;

function envelope(bytes = 64): Envelope {
  return { id: ulid(), from: 'alice@a.example', to: [`bob@${PEER}`], type: 'message', ts: Date.now(), body: new Uint8Array(randomBytes(bytes)) };
}

const summary = (rows: OutboxRow[]) => rows.map((r) => ({ seq: r.seq, envId: r.envId, body: Buffer.from(r.body).toString('hex'), expiresAt: r.expiresAt }));

describe('queue store: batches come from what was just committed, and match the outbox', () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  /** The queue as this process sees it, and as a second one reading only the database sees it. */
  async function stores(): Promise<{ queue: QueueStore; fromDisk: () => QueueStore }> {
    store = await openStore({ dataDir: tempDir(), logger });
    const sqlite = store.sqlite;
    return { queue: new QueueStore(sqlite), fromDisk: () => new QueueStore(sqlite) };
  }

  function read(queue: QueueStore, afterSeq = -1, limit = 1000, bytes = 2 ** 21) {
    const { rows, complete } = queue.readBatch(PEER, limit, bytes, afterSeq);
    return { rows: summary(rows), complete };
  }

  it('answers each read exactly as the outbox would, through sends, acks, a recall and expiry', async () => {
    const { queue, fromDisk } = await stores();
    const now = Date.now();
    // More than one multi-row insert statement's worth (64), to check the sequence numbers.
    const sent = Array.from({ length: 150 }, () => envelope());
    queue.enqueue(
      sent.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    // A short-lived one, to expire later.
    const shortLived = envelope();
    queue.enqueue([{ envelope: shortLived, routes: [{ peer: PEER, recipients: shortLived.to }] }], now, 10);
    expect(queue.depth(PEER)).toBe(151);
    for (const [after, limit, bytes] of [
      [-1, 1000, 2 ** 21],
      [-1, 10, 2 ** 21],
      [-1, 1000, 1000],
    ] as const) {
      expect(read(queue, after, limit, bytes)).toEqual(read(fromDisk(), after, limit, bytes));
    }
    const first = queue.readBatch(PEER, 10, 2 ** 21).rows;
    const afterFirst = (first.at(-1) as OutboxRow).seq;
    expect(read(queue, afterFirst)).toEqual(read(fromDisk(), afterFirst));

    // The peer acks the first ten; one of the next is recalled before it was sent.
    queue.settle(
      PEER,
      first.map((r) => r.envId),
      [],
      now,
      'a.example',
    );
    const recalled = sent[12] as Envelope;
    expect(queue.recall(recalled.id, now).removedFrom).toEqual([PEER]);
    expect(queue.expire(now + 11, 'a.example')).toBe(1);
    const after = read(queue);
    expect(after).toEqual(read(fromDisk()));
    expect(after.rows.map((r) => r.envId)).toEqual(
      sent
        .slice(10)
        .filter((e) => e !== recalled)
        .map((e) => e.id),
    );
    expect(after.complete).toBe(true);
    expect(queue.depth(PEER)).toBe(139);
  });

  it('tells the sender which acknowledged envelopes were recalled while on their way', async () => {
    const { queue } = await stores();
    const now = Date.now();
    const [kept, recalled] = [envelope(), envelope()];
    queue.enqueue(
      [kept, recalled].map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    expect(queue.readBatch(PEER, 10, 2 ** 21).rows).toHaveLength(2); // both sent
    expect(queue.recall(recalled.id, now).removedFrom).toEqual([PEER]);
    const settled = queue.settle(PEER, [kept.id, recalled.id], [], now, 'a.example');
    expect(settled.recalledInFlight).toEqual([{ envId: recalled.id, sender: recalled.from, recipients: recalled.to }]);
    expect(queue.depth(PEER)).toBe(0);
    // It did reach the peer: a second recall now goes there as a recall envelope.
    expect(queue.recall(recalled.id, now).reached).toEqual([{ peer: PEER, recipients: recalled.to }]);
  });

  it('deletes plain acknowledgements together a moment later; meanwhile they are never sent again, and a recall finds them delivered', async () => {
    const { queue: before, fromDisk } = await stores();
    const now = Date.now();
    const sent = Array.from({ length: 6 }, () => envelope());
    before.enqueue(
      sent.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    // A restarted process: nothing in memory, every read goes to the outbox.
    const queue = fromDisk();
    const onDisk = () => (store?.sqlite.prepare('select count(*) as n from outbox').get() as { n: number }).n;
    const ids = (rows: Array<{ envId: string }>) => rows.map((r) => r.envId);
    const first = queue.readBatch(PEER, 3, 2 ** 21).rows;
    queue.settle(PEER, ids(first), [], now, 'a.example', queue.recalls);
    expect(onDisk()).toBe(6);
    expect(queue.depth(PEER)).toBe(3);
    expect(read(queue)).toEqual({ rows: summary(queue.readBatch(PEER, 1000, 2 ** 21).rows), complete: true });
    expect(ids(queue.readBatch(PEER, 1000, 2 ** 21).rows)).toEqual(sent.slice(3).map((e) => e.id));
    expect(queue.readBatch(PEER, 2, 2 ** 21).complete).toBe(false);

    // A recall flushes first: the acknowledged envelope was delivered, not removed from a queue.
    expect(queue.recall(sent[0]?.id as string, now)).toEqual({ removedFrom: [], reached: [{ peer: PEER, recipients: sent[0]?.to }] });
    expect(onDisk()).toBe(3);

    // Without a reader, the timer deletes them; an id no longer queued is counted back.
    queue.settle(PEER, [sent[3]?.id as string, ulid()], [], now, 'a.example', queue.recalls);
    expect(queue.depth(PEER)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(onDisk()).toBe(2);
    expect(queue.depth(PEER)).toBe(2);
    expect(read(queue)).toEqual(read(fromDisk()));

    // A recall since the batch left: the ack is settled at once, with the recall check.
    const recalls = queue.recalls;
    expect(queue.recall(sent[5]?.id as string, now).removedFrom).toEqual([PEER]);
    const settled = queue.settle(PEER, [sent[4]?.id as string, sent[5]?.id as string], [], now, 'a.example', recalls);
    expect(settled.recalledInFlight.map((r) => r.envId)).toEqual([sent[5]?.id]);
    expect(onDisk()).toBe(0);
    expect(queue.depth(PEER)).toBe(0);
  });

  it('reads past a head of acknowledgements set aside for deletion instead of answering an empty batch with more queued', async () => {
    const { queue, fromDisk } = await stores();
    const now = Date.now();
    const sent = Array.from({ length: 1500 }, () => envelope(16));
    queue.enqueue(
      sent.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    // After a restart batches come from the outbox; a whole batch's worth of acks waits for its delete.
    const restarted = fromDisk();
    restarted.settle(
      PEER,
      sent.slice(0, 1000).map((e) => e.id),
      [],
      now,
      'a.example',
      restarted.recalls,
    );
    const { rows, complete } = restarted.readBatch(PEER, 1000, 2 ** 21);
    expect(rows.map((r) => r.envId)).toEqual(sent.slice(1000).map((e) => e.id));
    expect(complete).toBe(true);
    restarted.flushSettled();
    expect(restarted.depth(PEER)).toBe(500);
  });

  it('keeps acknowledgements set aside when their delete fails (a locked database), and deletes them on a later try', async () => {
    const { queue } = await stores();
    const now = Date.now();
    const sent = [envelope(), envelope()];
    queue.enqueue(
      sent.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    const sqlite = store?.sqlite as BetterSqlite3.Database;
    sqlite.pragma('busy_timeout = 20');
    const other = new BetterSqlite3(sqlite.name);
    const onDisk = () => (other.prepare('select count(*) as n from outbox').get() as { n: number }).n;
    try {
      other.prepare('begin immediate').run();
      queue.settle(PEER, [sent[0]?.id as string], [], now, 'a.example', queue.recalls);
      // The timer's flush meets the lock: no exception escapes, nothing is lost.
      await new Promise((resolve) => setTimeout(resolve, 100));
      other.prepare('commit').run();
      expect(onDisk()).toBe(2);
      expect(queue.readBatch(PEER, 10, 2 ** 21).rows.map((r) => r.envId)).toEqual([sent[1]?.id]);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(onDisk()).toBe(1);
      expect(queue.depth(PEER)).toBe(1);
    } finally {
      other.close();
    }
  });

  it('falls back to the outbox for rows queued before a restart and for a queue over its memory budget', async () => {
    const { queue, fromDisk } = await stores();
    const now = Date.now();
    // Before "restart": queued by another QueueStore on the same database.
    const old = Array.from({ length: 5 }, () => envelope());
    fromDisk().enqueue(
      old.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    const restarted = fromDisk();
    const fresh = envelope();
    restarted.enqueue([{ envelope: fresh, routes: [{ peer: PEER, recipients: fresh.to }] }], now, HOUR);
    expect(read(restarted).rows.map((r) => r.envId)).toEqual([...old, fresh].map((e) => e.id));

    // More than the budget kept in memory (8 MiB): 70 bodies of 128 KiB.
    const big = Array.from({ length: 70 }, () => envelope(128 * 1024));
    for (const e of big) queue.enqueue([{ envelope: e, routes: [{ peer: PEER, recipients: e.to }] }], now, HOUR);
    const all = read(queue, -1, 1000, 2 ** 30);
    expect(all).toEqual(read(fromDisk(), -1, 1000, 2 ** 30));
    expect(all.rows.map((r) => r.envId)).toEqual([...old, fresh, ...big].map((e) => e.id));

    // The budget is shared: a second peer's queue pushes the first one's rows out, and both
    // still read as the outbox does.
    const other = 'c.example';
    const forOther = Array.from({ length: 70 }, () => envelope(128 * 1024));
    for (const e of forOther) queue.enqueue([{ envelope: e, routes: [{ peer: other, recipients: [`bob@${other}`] }] }], now, HOUR);
    const otherRows = queue.readBatch(other, 1000, 2 ** 30).rows;
    expect(otherRows.map((r) => r.envId)).toEqual(forOther.map((e) => e.id));
    expect(summary(otherRows)).toEqual(summary(fromDisk().readBatch(other, 1000, 2 ** 30).rows));
    expect(read(queue, -1, 1000, 2 ** 30)).toEqual(all);

    // Once the peer's queue has drained, new rows are served from memory again, and still
    // read exactly as the outbox does.
    queue.settle(
      PEER,
      all.rows.map((r) => r.envId),
      [],
      now,
      'a.example',
    );
    expect(queue.depth(PEER)).toBe(0);
    const later = Array.from({ length: 3 }, () => envelope());
    queue.enqueue(
      later.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
      now,
      HOUR,
    );
    expect(read(queue)).toEqual(read(fromDisk()));
    expect(read(queue).rows.map((r) => r.envId)).toEqual(later.map((e) => e.id));
  });
});

describe('queue store: multi-row inserts', () => {
  it('cuts every batch into chunks of 64, 32, …, 1 rows that cover it in order', () => {
    for (let length = 0; length <= 300; length++) {
      const chunks = insertChunks(length);
      const sizes = chunks.map(([start, end]) => end - start);
      // Contiguous from 0 to length: nothing skipped, nothing twice.
      expect(chunks.map(([start]) => start)).toEqual(chunks.map((_, i) => (i === 0 ? 0 : (chunks[i - 1] as [number, number])[1])));
      expect(chunks.at(-1)?.[1] ?? 0).toBe(length);
      // Seven statement sizes per table, whatever the batch sizes are.
      for (const size of sizes) expect([1, 2, 4, 8, 16, 32, 64]).toContain(size);
      // Largest first, so a batch takes as few statements as it can: full chunks, then its remainder's bits.
      expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
      expect(sizes.length).toBe(Math.floor(length / 64) + [...(length % 64).toString(2)].filter((b) => b === '1').length);
    }
  });

  it('numbers rows across chunks of every size exactly as the outbox and the inbox hold them', async () => {
    const store = await openStore({ dataDir: tempDir(), logger });
    try {
      const queue = new QueueStore(store.sqlite);
      const now = Date.now();
      const sent: Envelope[] = [];
      for (const n of [1, 63, 127, 3, 200]) {
        const batch = Array.from({ length: n }, () => envelope(8));
        sent.push(...batch);
        queue.enqueue(
          batch.map((e) => ({ envelope: e, routes: [{ peer: PEER, recipients: e.to }] })),
          now,
          HOUR,
        );
      }
      const { rows } = new QueueStore(store.sqlite).readBatch(PEER, 10_000, 2 ** 24, -1);
      expect(rows.map((r) => r.envId)).toEqual(sent.map((e) => e.id));
      expect(queue.readBatch(PEER, 10_000, 2 ** 24, -1).rows.map((r) => r.seq)).toEqual(rows.map((r) => r.seq));

      const received = Array.from({ length: 127 }, () => envelope(8));
      const result = queue.receive('a.example', received, now);
      expect(result.inserted.map((r) => [r.seq, r.envId])).toEqual(queue.inbox(0, 10_000).map((r) => [r.seq, r.envId]));
      expect(result.inserted.map((r) => r.envId)).toEqual(received.map((e) => e.id));
    } finally {
      await store.close();
    }
  });
});

describe('queue store: a peer batch is stored once per id, in order', () => {
  it('acks duplicates and redeliveries without storing twice, and hands out exactly the rows it added', async () => {
    const store = await openStore({ dataDir: tempDir(), logger });
    try {
      const queue = new QueueStore(store.sqlite);
      const origin = 'a.example';
      const inbox = () => queue.inbox(0, 10_000).map((r) => ({ seq: r.seq, envId: r.envId, body: Buffer.from(r.body).toString('hex') }));
      const first = Array.from({ length: 100 }, () => envelope());
      const r1 = queue.receive(origin, first, 1000);
      expect(r1.stored).toEqual(first.map((e) => e.id));
      expect(r1.inserted.map((r) => ({ seq: r.seq, envId: r.envId, body: Buffer.from(r.body).toString('hex') }))).toEqual(inbox());

      // A redelivered batch (lost ack) with one new envelope, one twice, and a recall of an earlier one.
      const fresh = envelope();
      const recall: Envelope = { ...envelope(0), type: 'recall', ref: (first[5] as Envelope).id };
      const r2 = queue.receive(origin, [...first.slice(0, 10), fresh, fresh, recall], 2000);
      expect(r2.stored).toEqual([...first.slice(0, 10).map((e) => e.id), fresh.id, fresh.id, recall.id]);
      expect(r2.recalledFromInbox).toEqual([(first[5] as Envelope).id]);
      expect(r2.inserted.map((r) => r.envId)).toEqual([fresh.id, recall.id]);
      expect(inbox().map((r) => r.envId)).toEqual([...first.filter((_, i) => i !== 5).map((e) => e.id), fresh.id, recall.id]);

      // The dedupe ids expired while the home had not taken the envelopes: still not stored twice.
      queue.prune(3000, 0);
      const r3 = queue.receive(origin, first.slice(20, 30), 4000);
      expect(r3.stored).toEqual(first.slice(20, 30).map((e) => e.id));
      expect(r3.inserted).toEqual([]);
      expect(inbox()).toHaveLength(101);
    } finally {
      await store.close();
    }
  });

  it('deletes what the home acknowledged on its stream with the next batch or a moment later, never handing it out again', async () => {
    const store = await openStore({ dataDir: tempDir(), logger });
    try {
      const queue = new QueueStore(store.sqlite);
      const origin = 'a.example';
      const onDisk = () => (store.sqlite.prepare('select count(*) as n from inbox').get() as { n: number }).n;
      const [a, b, c] = [envelope(), envelope(), envelope()] as [Envelope, Envelope, Envelope];
      queue.receive(origin, [a, b, c], 1000);

      queue.ackLater([a.id]);
      expect(onDisk()).toBe(3);
      expect(queue.inbox(0, 10).map((r) => r.envId)).toEqual([b.id, c.id]);
      expect(onDisk()).toBe(2);

      // Acknowledged, then recalled in the next batch: the home took it, so nothing is removed before it did.
      queue.ackLater([b.id]);
      const recall: Envelope = { ...envelope(0), type: 'recall', ref: b.id };
      const r = queue.receive(origin, [recall], 2000);
      expect(r.recalledFromInbox).toEqual([]);
      expect(r.inserted.map((row) => row.envId)).toEqual([recall.id]);
      expect(onDisk()).toBe(2);

      // No batch follows: the timer deletes it.
      queue.ackLater([c.id]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(onDisk()).toBe(1);
      expect(queue.ack([recall.id])).toBe(1);
      expect(queue.inboxDepth()).toBe(0);
    } finally {
      await store.close();
    }
  });
});

describe('queue store: retry state', () => {
  it('reads back what is on disk through backoffs, a reset, a sever, and a store opened again', async () => {
    const store = await openStore({ dataDir: tempDir(), logger });
    try {
      const queue = new QueueStore(store.sqlite);
      const fromDisk = (peer: string) => new QueueStore(store.sqlite).retryState(peer);
      expect(queue.retryState(PEER)).toBeUndefined();
      queue.setRetryState(PEER, 1, 5000, 'peer_unreachable');
      queue.setRetryState(PEER, 2, 9000, 'timeout');
      expect(queue.retryState(PEER)).toEqual({ attempts: 2, nextAttemptAt: 9000, lastError: 'timeout' });
      expect(fromDisk(PEER)).toEqual(queue.retryState(PEER));

      // Written by another store of the same file (a restart): read from disk the first time.
      new QueueStore(store.sqlite).setRetryState('c.example', 3, 7000, null);
      expect(queue.retryState('c.example')).toEqual({ attempts: 3, nextAttemptAt: 7000, lastError: null });

      queue.setRetryState(PEER, 0, 0, null);
      expect(queue.retryState(PEER)).toBeUndefined();
      expect(fromDisk(PEER)).toBeUndefined();

      queue.setRetryState(PEER, 4, 1000, 'timeout');
      queue.purgePeer(PEER);
      expect(queue.retryState(PEER)).toBeUndefined();
      expect(fromDisk(PEER)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
