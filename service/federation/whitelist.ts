import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ConsulateError } from '../errors.js';
import { fingerprintOf } from '../identity/identity.js';
import { appendAudit } from '../store/audit.js';
import type { Database, PeerTable } from '../store/schema.js';
import type { Card } from './card.js';
import { normaliseDomain, normaliseHttpsUrl } from './domain.js';

export const capabilitiesSchema = z.strictObject({
  lookup: z.boolean().default(true),
  messages: z.boolean().default(true),
  files: z.boolean().default(false),
  calls: z.boolean().default(false),
});
export type Capabilities = z.infer<typeof capabilitiesSchema>;

export const limitsSchema = z.strictObject({
  /** Inbound envelopes per second (token bucket refill). */
  ratePerSecond: z.number().int().min(1).max(1_000_000).default(50_000),
  // At most 8 MiB so one envelope with its fields always fits a 16 MiB link frame.
  maxEnvelopeBytes: z
    .number()
    .int()
    .min(256)
    .max(8 * 1024 * 1024)
    .default(256 * 1024),
  maxFileBytes: z
    .number()
    .int()
    .min(0)
    .default(100 * 1024 * 1024),
  /** Envelopes waiting for this peer before the home gets queue_full. */
  outboxMax: z.number().int().min(1).default(1_000_000),
});
export type PeerLimits = z.infer<typeof limitsSchema>;

export type PeerState = 'active' | 'suspended';

export interface PinnedKey {
  publicKey: string;
  fingerprint: string;
  notAfter: string | null;
  source: 'card' | 'admin' | 'rotation';
  addedAt: string;
}

export interface Peer {
  domain: string;
  federationUrl: string;
  fileProxyUrl: string | null;
  relay: string | null;
  keys: PinnedKey[];
  capabilities: Capabilities;
  limits: PeerLimits;
  note: string;
  state: PeerState;
  caBundle: string | null;
  cardIssued: string | null;
  addedBy: string;
  addedAt: string;
  updatedAt: string;
}

export interface PeerInput {
  domain: string;
  federationUrl: string;
  fileProxyUrl?: string | null | undefined;
  relay?: string | null | undefined;
  publicKey: string;
  capabilities?: Partial<Capabilities> | undefined;
  limits?: Partial<PeerLimits> | undefined;
  note?: string | undefined;
  caBundle?: string | null | undefined;
}

export interface WhitelistOptions {
  ownDomain: string;
  now?: () => Date;
}

/** Something that holds per-peer data which a sever must purge (outbox, inbox, files). */
export type SeverHook = (domain: string) => Promise<void>;

/**
 * The whitelist: default deny, one entry per peer domain with pinned keys. Every change
 * is written together with its audit line and announced with a 'changed' event.
 */
export class Whitelist extends EventEmitter<{ changed: [domain: string] }> {
  readonly #db: Kysely<Database>;
  readonly #ownDomain: string;
  readonly #now: () => Date;
  readonly #severHooks: SeverHook[] = [];

  constructor(db: Kysely<Database>, options: WhitelistOptions) {
    super();
    this.#db = db;
    this.#ownDomain = options.ownDomain;
    this.#now = options.now ?? (() => new Date());
  }

  onSever(hook: SeverHook): void {
    this.#severHooks.push(hook);
  }

  async list(): Promise<Peer[]> {
    const rows = await this.#db.selectFrom('peers').selectAll().orderBy('domain').execute();
    const keys = await this.#db.selectFrom('peer_keys').selectAll().orderBy('addedAt').execute();
    return rows.map((row) =>
      toPeer(
        row,
        keys.filter((k) => k.domain === row.domain),
      ),
    );
  }

  async get(domain: string): Promise<Peer | undefined> {
    const normalised = normaliseDomain(domain);
    const row = await this.#db.selectFrom('peers').selectAll().where('domain', '=', normalised).executeTakeFirst();
    if (!row) return undefined;
    const keys = await this.#db.selectFrom('peer_keys').selectAll().where('domain', '=', normalised).orderBy('addedAt').execute();
    return toPeer(row, keys);
  }

  async require(domain: string): Promise<Peer> {
    const peer = await this.get(domain);
    if (!peer) throw new ConsulateError('not_whitelisted', `${domain} is not on the whitelist`, { status: 404 });
    return peer;
  }

  /** Keys pinned for the domain that are valid now (a rotated-out key is kept until its notAfter). */
  async pinnedKeys(domain: string): Promise<PinnedKey[]> {
    const peer = await this.get(domain);
    const now = this.#now().getTime();
    return (peer?.keys ?? []).filter((k) => k.notAfter === null || Date.parse(k.notAfter) > now);
  }

  async add(input: PeerInput, actor: string, source: PinnedKey['source'] = 'admin', cardIssued: string | null = null): Promise<Peer> {
    const domain = normaliseDomain(input.domain);
    if (domain === this.#ownDomain) throw new ConsulateError('peer_is_self', `${domain} is this appliance's own domain`);
    if (await this.get(domain))
      throw new ConsulateError('peer_exists', `${domain} is already on the whitelist; use update or import its card again`, { status: 409 });
    if (!/^[A-Za-z0-9_-]{43}$/.test(input.publicKey)) throw new ConsulateError('invalid_key', 'publicKey must be a base64url Ed25519 public key');
    const now = this.#now().toISOString();
    const row: PeerTable = {
      domain,
      federationUrl: normaliseHttpsUrl(input.federationUrl, 'federationUrl'),
      fileProxyUrl: input.fileProxyUrl ? normaliseHttpsUrl(input.fileProxyUrl, 'fileProxyUrl') : null,
      relay: input.relay ?? null,
      capabilities: JSON.stringify(parseOr(capabilitiesSchema, input.capabilities ?? {}, 'capabilities')),
      limits: JSON.stringify(parseOr(limitsSchema, input.limits ?? {}, 'limits')),
      note: input.note ?? '',
      state: 'active',
      caBundle: input.caBundle ?? null,
      cardIssued,
      addedBy: actor,
      addedAt: now,
      updatedAt: now,
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('peers').values(row).execute();
      await trx.insertInto('peer_keys').values({ domain, publicKey: input.publicKey, notAfter: null, source, addedAt: now }).execute();
      await appendAudit(trx, { actor, action: 'peer.add', target: domain, details: { fingerprint: fingerprintOf(input.publicKey), source } }, this.#now());
    });
    this.emit('changed', domain);
    return this.require(domain);
  }

  /**
   * Adds or refreshes a peer from a verified card (an admin act). A card whose key is not
   * pinned for an existing peer is refused unless the admin explicitly replaces the key.
   */
  async importCard(
    card: Card,
    actor: string,
    options: { replaceKey?: boolean; capabilities?: Partial<Capabilities>; note?: string } = {},
  ): Promise<{ peer: Peer; created: boolean }> {
    const existing = await this.get(card.domain);
    if (!existing) {
      const peer = await this.add(
        {
          domain: card.domain,
          federationUrl: card.federationUrl,
          fileProxyUrl: card.fileProxyUrl,
          relay: card.relay,
          publicKey: card.publicKey,
          capabilities: options.capabilities,
          note: options.note,
        },
        actor,
        'card',
        card.issued,
      );
      return { peer, created: true };
    }
    if (existing.cardIssued && Date.parse(card.issued) < Date.parse(existing.cardIssued)) {
      throw new ConsulateError('card_stale', `this card (issued ${card.issued}) is older than the one already imported (${existing.cardIssued})`);
    }
    const pinned = existing.keys.some((k) => k.publicKey === card.publicKey);
    if (!pinned && !options.replaceKey) {
      throw new ConsulateError(
        'key_mismatch',
        `the card's key ${fingerprintOf(card.publicKey)} is not pinned for ${existing.domain} (pinned: ${existing.keys.map((k) => k.fingerprint).join(', ')}); confirm the new fingerprint with the peer's admin, then import with --replace-key`,
        { status: 409 },
      );
    }
    const now = this.#now().toISOString();
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('peers')
        .set({
          federationUrl: normaliseHttpsUrl(card.federationUrl, 'federationUrl'),
          fileProxyUrl: card.fileProxyUrl ? normaliseHttpsUrl(card.fileProxyUrl, 'fileProxyUrl') : null,
          relay: card.relay ?? null,
          cardIssued: card.issued,
          updatedAt: now,
        })
        .where('domain', '=', existing.domain)
        .execute();
      if (!pinned) {
        await trx.deleteFrom('peer_keys').where('domain', '=', existing.domain).execute();
        await trx
          .insertInto('peer_keys')
          .values({ domain: existing.domain, publicKey: card.publicKey, notAfter: null, source: 'card', addedAt: now })
          .execute();
      }
      await appendAudit(
        trx,
        { actor, action: pinned ? 'peer.card_refresh' : 'peer.key_replace', target: existing.domain, details: { fingerprint: fingerprintOf(card.publicKey) } },
        this.#now(),
      );
    });
    this.emit('changed', existing.domain);
    return { peer: await this.require(existing.domain), created: false };
  }

  async update(
    domain: string,
    patch: {
      capabilities?: Partial<Capabilities>;
      limits?: Partial<PeerLimits>;
      note?: string;
      federationUrl?: string;
      fileProxyUrl?: string | null;
      relay?: string | null;
      caBundle?: string | null;
    },
    actor: string,
  ): Promise<Peer> {
    const peer = await this.require(domain);
    const set: Partial<PeerTable> = { updatedAt: this.#now().toISOString() };
    if (patch.capabilities) set.capabilities = JSON.stringify(parseOr(capabilitiesSchema, { ...peer.capabilities, ...patch.capabilities }, 'capabilities'));
    if (patch.limits) set.limits = JSON.stringify(parseOr(limitsSchema, { ...peer.limits, ...patch.limits }, 'limits'));
    if (patch.note !== undefined) set.note = patch.note;
    if (patch.federationUrl !== undefined) set.federationUrl = normaliseHttpsUrl(patch.federationUrl, 'federationUrl');
    if (patch.fileProxyUrl !== undefined) set.fileProxyUrl = patch.fileProxyUrl ? normaliseHttpsUrl(patch.fileProxyUrl, 'fileProxyUrl') : null;
    if (patch.relay !== undefined) set.relay = patch.relay;
    if (patch.caBundle !== undefined) set.caBundle = patch.caBundle;
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('peers').set(set).where('domain', '=', peer.domain).execute();
      await appendAudit(trx, { actor, action: 'peer.update', target: peer.domain, details: { fields: Object.keys(patch) } }, this.#now());
    });
    this.emit('changed', peer.domain);
    return this.require(peer.domain);
  }

  async setState(domain: string, state: PeerState, actor: string): Promise<Peer> {
    const peer = await this.require(domain);
    if (peer.state === state) return peer;
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('peers').set({ state, updatedAt: this.#now().toISOString() }).where('domain', '=', peer.domain).execute();
      await appendAudit(trx, { actor, action: state === 'suspended' ? 'peer.suspend' : 'peer.resume', target: peer.domain }, this.#now());
    });
    this.emit('changed', peer.domain);
    return this.require(peer.domain);
  }

  /** Pins an additional key, e.g. from a verified rotation statement. */
  async pinKey(domain: string, publicKey: string, options: { notAfter?: string | null; source: PinnedKey['source'] }, actor: string): Promise<void> {
    const peer = await this.require(domain);
    const now = this.#now().toISOString();
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('peer_keys')
        .values({ domain: peer.domain, publicKey, notAfter: options.notAfter ?? null, source: options.source, addedAt: now })
        .onConflict((oc) => oc.columns(['domain', 'publicKey']).doUpdateSet({ notAfter: options.notAfter ?? null }))
        .execute();
      await appendAudit(
        trx,
        { actor, action: 'peer.pin_key', target: peer.domain, details: { fingerprint: fingerprintOf(publicKey), source: options.source } },
        this.#now(),
      );
    });
    this.emit('changed', peer.domain);
  }

  /** Sets the end of the grace period of a key that was rotated out. */
  async expireKey(domain: string, publicKey: string, notAfter: string, actor: string): Promise<void> {
    const peer = await this.require(domain);
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('peer_keys').set({ notAfter }).where('domain', '=', peer.domain).where('publicKey', '=', publicKey).execute();
      await appendAudit(
        trx,
        { actor, action: 'peer.key_grace', target: peer.domain, details: { fingerprint: fingerprintOf(publicKey), notAfter } },
        this.#now(),
      );
    });
    this.emit('changed', peer.domain);
  }

  /** Sever: the entry, its pins and every queued item for the peer are removed. */
  async remove(domain: string, actor: string, confirm: string): Promise<void> {
    const peer = await this.require(domain);
    if (normaliseDomain(confirm) !== peer.domain) {
      throw new ConsulateError('confirmation_required', `severing ${peer.domain} deletes its queued data; confirm by giving the domain name again`);
    }
    for (const hook of this.#severHooks) await hook(peer.domain);
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('peer_keys').where('domain', '=', peer.domain).execute();
      await trx.deleteFrom('peers').where('domain', '=', peer.domain).execute();
      await appendAudit(trx, { actor, action: 'peer.sever', target: peer.domain }, this.#now());
    });
    this.emit('changed', peer.domain);
  }
}

function parseOr<T extends z.ZodType>(schema: T, value: unknown, field: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ConsulateError('bad_request', `${field}.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
}

function toPeer(row: PeerTable, keys: Array<{ publicKey: string; notAfter: string | null; source: PinnedKey['source']; addedAt: string }>): Peer {
  return {
    ...row,
    capabilities: capabilitiesSchema.parse(JSON.parse(row.capabilities)),
    limits: limitsSchema.parse(JSON.parse(row.limits)),
    keys: keys.map((k) => ({ publicKey: k.publicKey, fingerprint: fingerprintOf(k.publicKey), notAfter: k.notAfter, source: k.source, addedAt: k.addedAt })),
  };
}
