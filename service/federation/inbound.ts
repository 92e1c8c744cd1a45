import { Counter, type Registry } from 'prom-client';
import type { EnvelopeArchive } from '../compliance/archive.js';
import type { Directory } from '../home/directory.js';
import { LinkError, retryableRefusals } from '../link/errors.js';
import type { Envelope, FrameOf } from '../link/frames.js';
import type { FrameHandlers } from '../link/manager.js';
import type { LinkSession } from '../link/session.js';
import type { InboxRow, QueueStore } from '../queue/queue-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { PeerStatusBoard } from './peer-status.js';
import { TokenBucket } from './rate-limit.js';
import type { Peer, Whitelist } from './whitelist.js';

export interface InboundOptions {
  ownDomain: string;
  whitelist: Whitelist;
  directory: Directory;
  queue: QueueStore;
  status: PeerStatusBoard;
  logger: Logger;
  metrics: Registry;
  archive?: EnvelopeArchive | undefined;
  /** Called after a batch committed, so the home's stream can push at once. */
  /** After a batch committed, with the inbox rows it added. */
  onStored: (inserted: InboxRow[]) => void;
  now?: () => number;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/**
 * What this appliance answers on links: look-ups in its directory and deliveries to
 * its users. Every rule is checked against the authenticated link's domain, never
 * against what a frame claims.
 */
export function inboundHandlers(options: InboundOptions): FrameHandlers {
  const { whitelist, directory, queue, logger, ownDomain } = options;
  const now = options.now ?? Date.now;
  const peers = new Map<string, Peer>();
  const buckets = new Map<string, TokenBucket>();
  // '*': another process (the CLI) changed the store; forget every cached entry.
  whitelist.on('changed', (domain) => (domain === '*' ? peers.clear() : peers.delete(domain)));
  const received = new Counter({
    name: 'consulate_envelopes_received_total',
    help: 'Envelopes stored from peers.',
    labelNames: ['peer'],
    registers: [options.metrics],
  });
  const refused = new Counter({
    name: 'consulate_envelopes_refused_total',
    help: 'Envelopes refused from peers, by code.',
    labelNames: ['peer', 'code'],
    registers: [options.metrics],
  });

  async function peerOf(session: LinkSession): Promise<Peer> {
    let peer = peers.get(session.peerDomain);
    if (!peer) {
      peer = await whitelist.get(session.peerDomain);
      if (!peer) throw new LinkError('not_whitelisted', `${session.peerDomain} is no longer on the whitelist`);
      peers.set(peer.domain, peer);
    }
    if (peer.state !== 'active') throw new LinkError('peer_suspended', `${peer.domain} is suspended`);
    return peer;
  }

  /** Per link: the deliver batch being processed (they run one at a time) and the last batch taken whole. */
  const deliveries = new WeakMap<LinkSession, Promise<void>>();
  const chains = new WeakMap<LinkSession, number>();
  const handlers = {
    async lookup(frame: FrameOf<'lookup'>, session: LinkSession): Promise<FrameOf<'lookup.ok'>> {
      const peer = await peerOf(session);
      if (!peer.capabilities.lookup) throw new LinkError('capability_denied', `look-ups are not enabled for ${peer.domain}`);
      const results = frame.users.map((user) => {
        const entry = domainOf(user) === ownDomain ? directory.get(user) : undefined;
        return entry ? { user, found: true, displayName: entry.displayName, keyBundle: entry.keyBundle, updated: entry.updatedAt } : { user, found: false };
      });
      return { t: 'lookup.ok', id: frame.id, results };
    },

    deliver(frame: FrameOf<'deliver'>, session: LinkSession): Promise<FrameOf<'ack'>> {
      // One batch at a time per link, in the order they arrived: the chain check depends on it.
      const turn = (deliveries.get(session) ?? Promise.resolve()).then(() => deliver(frame, session));
      deliveries.set(
        session,
        turn.then(
          () => undefined,
          () => undefined,
        ),
      );
      return turn;
    },
  };

  async function deliver(frame: FrameOf<'deliver'>, session: LinkSession): Promise<FrameOf<'ack'>> {
    // A batch chained to one this link did not take whole must not overtake it.
    const taken = chains.get(session);
    if (frame.prev !== undefined && frame.prev !== taken) {
      refused.inc({ peer: session.peerDomain, code: 'out_of_order' }, frame.envelopes.length);
      return {
        t: 'ack',
        id: frame.id,
        stored: [],
        rejected: frame.envelopes.map((e) => ({
          id: e.id,
          code: 'out_of_order',
          reason: `batch ${frame.prev} before this one was not taken whole; send again from the oldest`,
        })),
      };
    }
    chains.delete(session);
    const ack = await deliverBatch(frame, session);
    if (frame.seq !== undefined && !ack.rejected.some((r) => retryableRefusals.has(r.code))) chains.set(session, frame.seq);
    return ack;
  }

  async function deliverBatch(frame: FrameOf<'deliver'>, session: LinkSession): Promise<FrameOf<'ack'>> {
    const peer = await peerOf(session);
    let bucket = buckets.get(peer.domain);
    if (!bucket) buckets.set(peer.domain, (bucket = new TokenBucket(peer.limits.ratePerSecond)));
    bucket.setRate(peer.limits.ratePerSecond);
    const accept: Envelope[] = [];
    const rejected: FrameOf<'ack'>['rejected'] = [];
    const refuse = (e: Envelope, code: string, reason: string) => {
      rejected.push({ id: e.id, code, reason });
      refused.inc({ peer: peer.domain, code });
    };
    const granted = bucket.take(frame.envelopes.length);
    let retryAfterMs: number | undefined;
    frame.envelopes.forEach((e, index) => {
      if (index >= granted) {
        // Over the rate: refused with a retry-after, never dropped; the sender keeps it queued.
        retryAfterMs = Math.max(1, bucket.waitMs(Math.min(frame.envelopes.length - granted, peer.limits.ratePerSecond)));
        return refuse(e, 'rate_limited', `over ${peer.limits.ratePerSecond} envelopes/s; retry after ${retryAfterMs} ms`);
      }
      if (domainOf(e.from) !== peer.domain) {
        logger.warn({ peer: peer.domain, envId: e.id, from: e.from }, 'refused a spoofed sender');
        options.status.recordError(peer.domain, 'spoofed_sender', `envelope ${e.id} claimed sender ${e.from}`);
        return refuse(e, 'spoofed_sender', `a peer may only send envelopes from its own users (${peer.domain})`);
      }
      const capability = e.type === 'call' ? 'calls' : 'messages';
      if (!peer.capabilities[capability]) return refuse(e, 'capability_denied', `${capability} are not enabled for ${peer.domain}`);
      if (e.body.length > peer.limits.maxEnvelopeBytes) return refuse(e, 'too_large', `body exceeds ${peer.limits.maxEnvelopeBytes} bytes`);
      const unknown = e.to.find((to) => domainOf(to) !== ownDomain || (e.type !== 'recall' && !directory.has(to)));
      if (unknown) return refuse(e, 'unknown_recipient', `${unknown} is not a user of ${ownDomain}`);
      accept.push(e);
    });
    options.archive?.append(accept.map((envelope) => ({ direction: 'in' as const, peer: peer.domain, envelope, at: now() })));
    // The ack below is sent only after this transaction committed.
    const { stored, recalledFromInbox, inserted } = accept.length
      ? queue.receive(peer.domain, accept, now())
      : { stored: [], recalledFromInbox: [], inserted: [] };
    if (stored.length) {
      received.inc({ peer: peer.domain }, stored.length);
      options.onStored(inserted);
    }
    if (recalledFromInbox.length) logger.info({ peer: peer.domain, count: recalledFromInbox.length }, 'recalled envelopes removed before the home took them');
    return { t: 'ack', id: frame.id, stored, rejected, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  return handlers;
}
