import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ConsulateError } from '../errors.js';
import { LinkError, retryableRefusals } from '../link/errors.js';
import type { Envelope, FrameOf } from '../link/frames.js';
import type { LinkManager } from '../link/manager.js';
import { backoffDelay } from '../link/backoff.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { LinkSession } from '../link/session.js';
import type { Logger } from '../telemetry/logger.js';
import type { PeerStatusBoard } from './peer-status.js';
import type { Peer, Whitelist } from './whitelist.js';
import { ulid } from 'ulid';
import type { EnvelopeArchive } from '../compliance/archive.js';

export interface RouterOptions {
  ownDomain: string;
  queue: QueueStore;
  whitelist: Whitelist;
  links: LinkManager;
  status: PeerStatusBoard;
  logger: Logger;
  metrics: Registry;
  /** Archive of every federated envelope, when the operator enabled it. */
  archive?: EnvelopeArchive | undefined;
  /** Is this a user of our directory? */
  isLocalUser: (user: string) => boolean;
  /** Envelopes per deliver frame (default 1000). */
  batchSize?: number;
  /** Bytes per deliver frame, roughly (default 2 MiB). */
  batchBytes?: number;
  /** Deliver batches outstanding per peer (default 2). */
  inFlight?: number;
  /** Envelope time to live in the outbox (default 7 days). */
  ttlMs?: number;
  now?: () => number;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/**
 * Routes envelopes the home submits to per-peer outboxes and drains each outbox over
 * the peer's link in order: one deliver batch in flight per peer, so a partial refusal
 * can never reorder what follows it.
 */
export class EnvelopeRouter {
  readonly #o: RouterOptions;
  readonly #workers = new Map<string, { running: boolean; timer?: NodeJS.Timeout; again: boolean }>();
  readonly #sent: Counter<'peer'>;
  readonly #failed: Counter<'peer' | 'code'>;
  readonly #batchLatency: Histogram<'peer'>;
  readonly #now: () => number;
  /** Whitelist entries by domain; dropped on every whitelist change ('*': the CLI changed the store). */
  readonly #peers = new Map<string, Peer | undefined>();
  /** Deliver batch numbers, unique for this process's lifetime (the receiver compares them per link). */
  #chainSeq = 0;
  /**
   * Per peer: envelopes sent in a batch whose answer never came (timeout, link lost), so the
   * peer may hold them, until a later ack settles them. A recall of one of them sends a recall
   * envelope even though it was still queued here. At start-up, the head of each queue (what can
   * have been in flight or acknowledged but not yet deleted when the process stopped) counts too.
   */
  readonly #uncertain = new Map<string, Set<string>>();
  #stopped = false;
  #expiry: NodeJS.Timeout | undefined;

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const queue = options.queue;
    this.#sent = new Counter({
      name: 'consulate_envelopes_delivered_total',
      help: 'Envelopes a peer acknowledged as stored.',
      labelNames: ['peer'],
      registers: [options.metrics],
    });
    this.#failed = new Counter({
      name: 'consulate_envelopes_undeliverable_total',
      help: 'Envelopes given up on, by peer and code.',
      labelNames: ['peer', 'code'],
      registers: [options.metrics],
    });
    this.#batchLatency = new Histogram({
      name: 'consulate_deliver_batch_seconds',
      help: 'Time from sending a deliver batch to its ack.',
      labelNames: ['peer'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [options.metrics],
    });
    new Gauge({
      name: 'consulate_outbox_depth',
      help: 'Envelopes waiting for each peer.',
      labelNames: ['peer'],
      registers: [options.metrics],
      collect() {
        this.reset();
        for (const [peer, n] of queue.depths()) this.set({ peer }, n);
      },
    });
    options.whitelist.on('changed', (domain) => (domain === '*' ? this.#peers.clear() : this.#peers.delete(domain)));
    const wasUp = new Set<string>();
    options.status.on('change', (s) => {
      const up = s.outbound === 'up';
      const cameUp = up && !wasUp.has(s.domain);
      if (up) wasUp.add(s.domain);
      else wasUp.delete(s.domain);
      // The link came back: retry now rather than at the end of a backoff.
      if (cameUp) {
        options.queue.setRetryState(s.domain, 0, 0, null);
        this.kick(s.domain);
      }
    });
  }

  start(): void {
    // What was on its way when this process stopped may have reached the peer: the batches in
    // flight and the acks set aside, all at the head of the queue.
    // (One batch more than may be in flight: acks set aside can reach maxSetAside plus the batch whose settle passed it.)
    const head = ((this.#o.inFlight ?? 2) + 1) * (this.#o.batchSize ?? 1000) + this.#o.queue.maxSetAside;
    for (const [peer, depth] of this.#o.queue.depths()) {
      if (depth > 0) this.#uncertain.set(peer, new Set(this.#o.queue.headIds(peer, head)));
      this.kick(peer);
    }
    this.#expiry = setInterval(() => {
      const n = this.#o.queue.expire(this.#now(), this.#o.ownDomain);
      if (n > 0) this.#o.logger.warn({ count: n }, 'envelopes expired undelivered; the senders were told');
    }, 60_000);
    this.#expiry.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#expiry);
    for (const w of this.#workers.values()) clearTimeout(w.timer);
  }

  /**
   * Validates every envelope against the whitelist, capabilities and limits, then stores
   * all of them in one transaction. Any problem refuses the whole request: nothing is half-stored.
   */
  async submit(envelopes: Envelope[]): Promise<{ accepted: string[]; duplicates: string[] }> {
    const items: Array<{ envelope: Envelope; routes: Array<{ peer: string; recipients: string[] }> }> = [];
    const duplicates: string[] = [];
    const seen = new Set<string>();
    const pending = new Map<string, number>();
    const previous = this.#o.queue.routedSenders(envelopes.map((e) => e.id));
    for (const envelope of envelopes) {
      if (seen.has(envelope.id)) throw new ConsulateError('duplicate_id', `envelope ${envelope.id} appears twice in this request`);
      seen.add(envelope.id);
      if (domainOf(envelope.from) !== this.#o.ownDomain || !this.#o.isLocalUser(envelope.from)) {
        throw new ConsulateError('unknown_sender', `envelope ${envelope.id}: from ${envelope.from} is not a user in this appliance's directory`, {
          status: 403,
        });
      }
      const sender = previous.get(envelope.id);
      if (sender !== undefined) {
        if (sender !== envelope.from) throw new ConsulateError('duplicate_id', `envelope id ${envelope.id} is already used by another sender`, { status: 409 });
        duplicates.push(envelope.id);
        continue;
      }
      const byPeer = new Map<string, string[]>();
      for (const to of envelope.to) {
        const domain = domainOf(to);
        if (domain === this.#o.ownDomain)
          throw new ConsulateError('not_remote', `envelope ${envelope.id}: ${to} is a local user; the home delivers those itself`);
        const list = byPeer.get(domain);
        if (list) list.push(to);
        else byPeer.set(domain, [to]);
      }
      const routes: Array<{ peer: string; recipients: string[] }> = [];
      for (const [domain, recipients] of byPeer) {
        // Known peers without an await: a submission's only pause is the commit's.
        const peer = this.#peers.has(domain) ? this.#peers.get(domain) : await this.#loadPeer(domain);
        if (!peer) throw new ConsulateError('not_whitelisted', `envelope ${envelope.id}: ${domain} is not on the whitelist`, { status: 403 });
        const capability = envelope.type === 'call' ? 'calls' : 'messages';
        if (!peer.capabilities[capability])
          throw new ConsulateError('capability_denied', `envelope ${envelope.id}: ${capability} are not enabled for ${domain}`, { status: 403 });
        if (envelope.body.length > peer.limits.maxEnvelopeBytes) {
          throw new ConsulateError(
            'too_large',
            `envelope ${envelope.id}: body of ${envelope.body.length} bytes exceeds ${peer.limits.maxEnvelopeBytes} for ${domain}`,
            { status: 413 },
          );
        }
        const queued = (pending.get(domain) ?? 0) + 1;
        if (this.#o.queue.depth(domain) + queued > peer.limits.outboxMax) {
          throw new ConsulateError('queue_full', `the queue for ${domain} holds ${this.#o.queue.depth(domain)} envelopes, its limit; try again later`, {
            status: 503,
          });
        }
        pending.set(domain, queued);
        routes.push({ peer: domain, recipients });
      }
      items.push({ envelope, routes });
    }
    // Archived before it is committed: a crash in between leaves a duplicate record, never a gap.
    this.#o.archive?.append(
      items.flatMap((item) => item.routes.map((r) => ({ direction: 'out' as const, peer: r.peer, envelope: item.envelope, at: this.#now() }))),
    );
    this.#o.queue.enqueue(items, this.#now(), this.#o.ttlMs ?? 7 * 86_400_000);
    for (const item of items) for (const route of item.routes) this.kick(route.peer);
    return { accepted: items.map((i) => i.envelope.id), duplicates };
  }

  /** Recall: removed where not yet sent; a recall envelope goes to every domain it reached. */
  async recall(envId: string, from: string): Promise<{ removedFrom: string[]; recallSentTo: string[] }> {
    const routes = this.#o.queue.routedPeers(envId);
    if (routes.length === 0) throw new ConsulateError('not_found', `no envelope ${envId} was submitted here`, { status: 404 });
    if (routes[0]?.sender !== from) throw new ConsulateError('unknown_sender', `envelope ${envId} was not sent by ${from}`, { status: 403 });
    const { removedFrom, reached } = this.#o.queue.recall(envId, this.#now());
    const recallSentTo: string[] = [];
    for (const { peer, recipients } of reached) {
      this.#sendRecall(peer, envId, from, recipients);
      recallSentTo.push(peer);
    }
    // Still queued here, but sent before in a batch whose answer was lost: the peer may have it.
    for (const peer of removedFrom) {
      if (!this.#uncertain.get(peer)?.delete(envId)) continue;
      const route = routes.find((r) => r.peer === peer);
      this.#sendRecall(peer, envId, from, route ? (JSON.parse(route.recipients) as string[]) : []);
      recallSentTo.push(peer);
    }
    return { removedFrom, recallSentTo };
  }

  /** Queues a recall envelope of `envId` for a peer that has it. */
  #sendRecall(peer: string, envId: string, from: string, recipients: string[]): void {
    const recall: Envelope = { id: ulid(), from, to: recipients, type: 'recall', ts: this.#now(), body: new Uint8Array(0), ref: envId };
    this.#o.archive?.append([{ direction: 'out', peer, envelope: recall, at: this.#now() }]);
    this.#o.queue.enqueue([{ envelope: recall, routes: [{ peer, recipients }] }], this.#now(), this.#o.ttlMs ?? 7 * 86_400_000);
    this.kick(peer);
  }

  /** A peer not in `#peers` yet, read from the whitelist and remembered until it changes. */
  async #loadPeer(domain: string): Promise<Peer | undefined> {
    const peer = await this.#o.whitelist.get(domain).catch(() => undefined);
    this.#peers.set(domain, peer);
    return peer;
  }

  kick(peer: string): void {
    if (this.#stopped) return;
    let worker = this.#workers.get(peer);
    if (!worker) this.#workers.set(peer, (worker = { running: false, again: false }));
    if (worker.running) {
      worker.again = true;
      return;
    }
    clearTimeout(worker.timer);
    worker.running = true;
    // setImmediate: envelopes submitted in the same turn go out in one batch.
    setImmediate(() => void this.#drain(peer));
  }

  /**
   * Drains a peer's outbox over its link with up to `inFlight` deliver batches outstanding.
   * The batches of one run form a chain (`seq`, `prev`): the receiver refuses, as
   * `out_of_order`, a batch whose predecessor it did not take whole, so a partial refusal can
   * never be overtaken. After any failure the loop waits for every batch in flight, then
   * starts a new chain from the oldest envelope still queued.
   */
  async #drain(peer: string): Promise<void> {
    const worker = this.#workers.get(peer) as { running: boolean; timer?: NodeJS.Timeout; again: boolean };
    const { queue, links, logger } = this.#o;
    const maxInFlight = this.#o.inFlight ?? 2;
    try {
      for (;;) {
        worker.again = false;
        if (this.#stopped) return;
        const retry = queue.retryState(peer);
        if (retry && retry.nextAttemptAt > this.#now()) {
          logger.trace({ peer, wait: retry.nextAttemptAt - this.#now() }, 'drain: waiting for retry time');
          worker.timer = setTimeout(() => this.kick(peer), retry.nextAttemptAt - this.#now());
          worker.timer.unref();
          return;
        }
        const session = links.outbound(peer);
        if (!session) {
          logger.trace({ peer }, 'drain: no link');
          return; // the link-up event kicks us again
        }
        // One chain: batches read one after the other from the outbox, sent without waiting
        // for the previous ack, settled in order.
        const inFlight: Array<Promise<boolean>> = [];
        let afterSeq = -1;
        let prev: number | undefined;
        let failed = false;
        let sent = 0;
        // Everything queued was read: read again only when a submission kicks us meanwhile.
        let exhausted = false;
        for (;;) {
          while (!failed && inFlight.length < maxInFlight && session.open) {
            if (exhausted) {
              if (!worker.again) break;
              worker.again = false;
              exhausted = false;
            }
            const next = this.#sendNext(peer, session, afterSeq, prev);
            exhausted = next.complete;
            if (!next.acked) break;
            afterSeq = next.lastSeq;
            prev = next.seq;
            inFlight.push(next.acked);
            sent++;
          }
          // What this loop sent leaves now, not at the end of the turn.
          session.flush();
          const oldest = inFlight.shift();
          if (!oldest) break;
          if (!(await oldest)) failed = true;
        }
        logger.trace({ peer, sent, failed }, 'drain: chain ended');
        if (!failed && exhausted && !worker.again) return;
      }
    } finally {
      worker.running = false;
      if (worker.again && !this.#stopped) this.kick(peer);
    }
  }

  /**
   * Reads the next batch after outbox position `afterSeq` and sends it. Not async on purpose:
   * the rows and their bodies are garbage once the frame is encoded, instead of living in an
   * awaiting function until the ack comes back (and being promoted to the old generation).
   */
  #sendNext(
    peer: string,
    session: LinkSession,
    afterSeq: number,
    prev: number | undefined,
  ): { acked?: Promise<boolean>; complete: boolean; lastSeq: number; seq: number } {
    const { rows, complete } = this.#o.queue.readBatch(peer, this.#o.batchSize ?? 1000, this.#o.batchBytes ?? 2 * 1024 * 1024, afterSeq);
    const last = rows.at(-1);
    if (!last) return { complete, lastSeq: afterSeq, seq: prev ?? -1 };
    const envelopes: Envelope[] = rows.map((r) => ({
      id: r.envId,
      from: r.sender,
      to: JSON.parse(r.recipients) as string[],
      type: r.type,
      ts: r.ts,
      body: r.body,
      ...(r.ref ? { ref: r.ref } : {}),
    }));
    const seq = this.#chainSeq++;
    const started = performance.now();
    const recalls = this.#o.queue.recalls;
    const answer = session.request<'deliver'>({ t: 'deliver', envelopes, seq, ...(prev !== undefined ? { prev } : {}) });
    const ids = rows.map((r) => r.envId);
    return { acked: this.#settleAck(peer, answer, { started, ids, recalls }), complete, lastSeq: last.seq, seq };
  }

  /** Settles a batch's ack; false when anything in it has to be sent again. */
  async #settleAck(
    peer: string,
    answer: Promise<FrameOf<'ack'>>,
    batch: { started: number; ids: string[]; /** the queue's recall count when it left */ recalls: number },
  ): Promise<boolean> {
    const { queue, logger } = this.#o;
    let ack: FrameOf<'ack'>;
    try {
      ack = await answer;
    } catch (error) {
      this.#retryLater(peer, error);
      this.#unanswered(peer, batch);
      return false;
    }
    try {
      this.#batchLatency.observe({ peer }, (performance.now() - batch.started) / 1000);
      const final = ack.rejected.filter((r) => !retryableRefusals.has(r.code));
      const { recalledInFlight } = queue.settle(
        peer,
        ack.stored,
        final.map((r) => ({ envId: r.id, code: r.code, reason: r.reason })),
        this.#now(),
        this.#o.ownDomain,
        batch.recalls,
      );
      for (const r of recalledInFlight) {
        logger.info({ peer, envId: r.envId }, 'an envelope recalled while on its way was stored by the peer; a recall follows it');
        this.#sendRecall(peer, r.envId, r.sender, r.recipients);
      }
      const uncertain = this.#uncertain.get(peer);
      if (uncertain) {
        for (const id of ack.stored) uncertain.delete(id);
        for (const r of final) uncertain.delete(r.id);
        // Refused for now (rate, order) after an earlier unanswered attempt, and recalled meanwhile.
        const again = ack.rejected.filter((r) => uncertain.has(r.id) && retryableRefusals.has(r.code)).map((r) => r.id);
        for (const r of queue.recalledAmong(peer, again)) {
          uncertain.delete(r.envId);
          this.#sendRecall(peer, r.envId, r.sender, r.recipients);
        }
        if (uncertain.size === 0 || queue.depth(peer) === 0) this.#uncertain.delete(peer);
      }
      this.#sent.inc({ peer }, ack.stored.length);
      for (const r of final) {
        this.#failed.inc({ peer, code: r.code });
        logger.warn({ peer, envId: r.id, code: r.code }, `peer refused envelope: ${r.reason}`);
      }
      if (ack.retryAfterMs !== undefined || ack.rejected.length > final.length) {
        // out_of_order alone: an earlier batch of the chain was refused, which set its own wait.
        const onlyOrder = ack.retryAfterMs === undefined && ack.rejected.every((r) => r.code === 'out_of_order' || !retryableRefusals.has(r.code));
        if (!onlyOrder)
          queue.setRetryState(
            peer,
            1,
            this.#now() + (ack.retryAfterMs ?? 1000),
            ack.rejected.find((r) => retryableRefusals.has(r.code))?.code ?? 'rate_limited',
          );
        return false;
      }
      return true;
    } catch (error) {
      // The peer stored the batch but settling it here failed (a locked database): it stays
      // queued and goes again, and until then counts as possibly delivered, so that a recall
      // meanwhile still sends a recall envelope.
      this.#retryLater(peer, error);
      this.#unanswered(peer, batch);
      return false;
    }
  }

  #retryLater(peer: string, error: unknown): void {
    const { queue, logger } = this.#o;
    const code = error instanceof LinkError ? error.code : 'internal';
    const attempts = (queue.retryState(peer)?.attempts ?? 0) + 1;
    queue.setRetryState(peer, attempts, this.#now() + backoffDelay(attempts, { baseMs: 250, maxMs: 60_000 }), code);
    logger.warn({ peer, code, attempts }, `delivery to ${peer} failed; will retry`);
  }

  /**
   * A batch got no answer: the peer may or may not have stored it. Envelopes recalled while it
   * was on its way get a recall envelope now; the others stay queued and are remembered as
   * possibly delivered, for a recall that comes before they are sent again.
   */
  #unanswered(peer: string, { ids, recalls }: { ids: string[]; recalls: number }): void {
    const recalled = recalls === this.#o.queue.recalls ? [] : this.#o.queue.recalledAmong(peer, ids);
    for (const r of recalled) {
      this.#o.logger.info({ peer, envId: r.envId }, 'an envelope recalled while on its way got no answer from the peer; a recall follows it');
      this.#sendRecall(peer, r.envId, r.sender, r.recipients);
    }
    const gone = new Set(recalled.map((r) => r.envId));
    let uncertain = this.#uncertain.get(peer);
    if (!uncertain) this.#uncertain.set(peer, (uncertain = new Set()));
    for (const id of ids) if (!gone.has(id)) uncertain.add(id);
  }
}
