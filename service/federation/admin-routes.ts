import type Router from '@koa/router';
import { parseBody, type AdminState } from '../admin/server.js';
import {
  cardImportRequest,
  cardPreviewRequest,
  peerRemoveRequest,
  peerUpdateRequest,
  queuePurgeRequest,
  type CardPreviewResponse,
  type CardResponse,
  type DoctorResponse,
  type IdentityResponse,
  type PeerView,
  type QueuesResponse,
  type RotateResponse,
} from '../admin/contract.js';
import { ConsulateError } from '../errors.js';
import type { Service } from '../app.js';
import { cardToText, createCard, parseCard, verifyCard } from './card.js';
import { checkPeer } from './doctor.js';
import type { Peer } from './whitelist.js';

const actor = 'admin (GUI)';

export function peerView(service: Service, peer: Peer): PeerView {
  const { domain: _domain, ...status } = service.peerStatus.get(peer.domain);
  return { ...peer, status };
}

/** Builds this appliance's current card from its identity and configuration. */
export async function currentCard(service: Service, validDays = 30) {
  const identity = (await service.localIdentities())[0];
  if (!identity) throw new ConsulateError('identity_missing', 'no identity key');
  return createCard(identity, { domain: service.config.domain, federationUrl: service.federationUrl }, { validDays });
}

export function federationRoutes(router: Router<AdminState>, service: Service): void {
  router.get('/identity', async (ctx) => {
    const [active] = await service.localIdentities();
    if (!active) throw new ConsulateError('identity_missing', 'no identity key');
    ctx.body = {
      domain: service.config.domain,
      fingerprint: active.fingerprint,
      publicKey: active.id,
      createdAt: active.createdAt,
      history: await service.identities.history(),
    } satisfies IdentityResponse;
  });

  router.post('/identity/rotate', async (ctx) => {
    const { previous, next, told } = await service.rotateKey(actor);
    ctx.body = { fingerprint: next.fingerprint, previousFingerprint: previous.fingerprint, told } satisfies RotateResponse;
  });

  router.get('/card', async (ctx) => {
    const card = await currentCard(service);
    const { fingerprint } = await verifyCard(card);
    ctx.body = { card, text: cardToText(card), fingerprint } satisfies CardResponse;
  });

  router.get('/peers', async (ctx) => {
    ctx.body = (await service.whitelist.list()).map((p) => peerView(service, p));
  });

  router.get('/peers/:domain', async (ctx) => {
    ctx.body = peerView(service, await service.whitelist.require(ctx.params['domain'] as string));
  });

  router.post('/peers/preview', async (ctx) => {
    const { card: text } = parseBody(cardPreviewRequest, ctx.request.body);
    const { card, fingerprint } = await verifyCard(parseCard(text));
    const existing = await service.whitelist.get(card.domain);
    const effect = !existing ? 'add' : existing.keys.some((k) => k.publicKey === card.publicKey) ? 'refresh' : 'replace_key';
    ctx.body = { domain: card.domain, federationUrl: card.federationUrl, fingerprint, expires: card.expires, effect } satisfies CardPreviewResponse;
  });

  router.post('/peers/import', async (ctx) => {
    const body = parseBody(cardImportRequest, ctx.request.body);
    const { card, fingerprint } = await verifyCard(parseCard(body.card));
    if (body.confirmFingerprint.trim().toLowerCase() !== fingerprint) {
      throw new ConsulateError(
        'fingerprint_mismatch',
        `the confirmed fingerprint does not match the card's (${fingerprint}); compare it with the peer's admin again`,
      );
    }
    const { peer, created } = await service.whitelist.importCard(card, actor, {
      ...(body.replaceKey !== undefined ? { replaceKey: body.replaceKey } : {}),
      ...(body.capabilities ? { capabilities: body.capabilities } : {}),
      ...(body.note !== undefined ? { note: body.note } : {}),
    });
    ctx.status = created ? 201 : 200;
    ctx.body = peerView(service, peer);
  });

  router.patch('/peers/:domain', async (ctx) => {
    const patch = parseBody(peerUpdateRequest, ctx.request.body);
    ctx.body = peerView(service, await service.whitelist.update(ctx.params['domain'] as string, patch, actor));
  });

  router.post('/peers/:domain/suspend', async (ctx) => {
    ctx.body = peerView(service, await service.whitelist.setState(ctx.params['domain'] as string, 'suspended', actor));
  });

  router.post('/peers/:domain/resume', async (ctx) => {
    ctx.body = peerView(service, await service.whitelist.setState(ctx.params['domain'] as string, 'active', actor));
  });

  router.delete('/peers/:domain', async (ctx) => {
    const { confirm } = parseBody(peerRemoveRequest, ctx.request.body);
    await service.whitelist.remove(ctx.params['domain'] as string, actor, confirm);
    ctx.status = 204;
  });

  router.post('/unknown-dialers/:domain/dismiss', (ctx) => {
    const domain = ctx.params['domain'] as string;
    if (!service.links.unknownDialers.dismiss(domain)) throw new ConsulateError('not_found', `no unknown appliance ${domain} is waiting`, { status: 404 });
    service.logger.info({ actor, domain }, 'unknown dialer dismissed for a day');
    ctx.status = 204;
  });

  router.get('/queues', async (ctx) => {
    const queue = service.queue;
    const domains = new Set([...(await service.whitelist.list()).map((p) => p.domain), ...queue.depths().keys()]);
    const now = Date.now();
    ctx.body = {
      inboxDepth: queue.inboxDepth(),
      peers: [...domains].sort().map((peer) => {
        const oldest = queue.oldestQueued(peer);
        const retry = queue.retryState(peer);
        return {
          peer,
          depth: queue.depth(peer),
          oldestAgeMs: oldest === undefined ? null : now - oldest,
          retry: retry ? { attempts: retry.attempts, nextAttemptAt: new Date(retry.nextAttemptAt).toISOString(), lastError: retry.lastError } : null,
          linkUp: service.links.outbound(peer) !== undefined,
        };
      }),
    } satisfies QueuesResponse;
  });

  router.post('/queues/:peer/retry', (ctx) => {
    const peer = ctx.params['peer'] as string;
    service.queue.setRetryState(peer, 0, 0, null);
    service.router.kick(peer);
    ctx.status = 204;
  });

  router.delete('/queues/:peer', (ctx) => {
    const peer = ctx.params['peer'] as string;
    const { confirm } = parseBody(queuePurgeRequest, ctx.request.body);
    if (confirm !== peer)
      throw new ConsulateError('confirmation_required', `purging deletes every envelope waiting for ${peer}; confirm by giving the domain name`);
    const purged = service.queue.purgeQueue(peer, Date.now(), service.config.domain);
    service.logger.warn({ peer, purged, actor }, 'queue purged by the administrator; senders were told');
    ctx.body = { purged };
  });

  router.post('/peers/:domain/check', async (ctx) => {
    const peer = await service.whitelist.require(ctx.params['domain'] as string);
    const [identity] = await service.localIdentities();
    if (!identity) throw new ConsulateError('identity_missing', 'no identity key');
    const steps = await checkPeer({ peer, ownDomain: service.config.domain, identity, caBundle: service.links.options.caBundle?.() ?? [] });
    ctx.body = { domain: peer.domain, ok: steps.length === 5 && steps.every((s) => s.ok), steps } satisfies DoctorResponse;
  });
}
