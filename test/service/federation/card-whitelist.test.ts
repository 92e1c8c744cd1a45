import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cardToText, createCard, parseCard, verifyCard, type Card } from '../../../service/federation/card.js';
import { Whitelist } from '../../../service/federation/whitelist.js';
import type { IdentityKey } from '../../../service/identity/identity.js';
import { verifyAuditChain, listAudit } from '../../../service/store/audit.js';
import { openStore, type Store } from '../../../service/store/database.js';
import { createLogger } from '../../../service/telemetry/logger.js';
import { newIdentity } from '../../helpers/identity.js';
import { tempDir } from '../../helpers/service-process.js';

const logger = createLogger({ level: 'silent' });

describe('federation cards', () => {
  it('round-trip through the JSON file and the text line, and verify', async () => {
    const identity = await newIdentity();
    const card = await createCard(identity, { domain: 'B.Example', federationUrl: 'https://fed.b.example:8443/', relay: 'turn.b.example:3478' });
    expect(card.domain).toBe('b.example');
    const text = cardToText(card);
    expect(text).toMatch(/^consulate-card:[A-Za-z0-9_-]+$/);
    expect(parseCard(text)).toEqual(card);
    expect(parseCard(JSON.stringify(card, null, 2))).toEqual(card);
    expect((await verifyCard(parseCard(text))).fingerprint).toBe(identity.fingerprint);
  });

  it('refuses an altered card, an expired card, another version and garbage, each with its own code', async () => {
    const identity = await newIdentity();
    const card = await createCard(identity, { domain: 'b.example', federationUrl: 'https://fed.b.example' });
    await expect(verifyCard({ ...card, federationUrl: 'https://evil.example' })).rejects.toMatchObject({ code: 'card_bad_signature' });
    await expect(verifyCard(card, new Date(Date.now() + 31 * 86_400_000))).rejects.toMatchObject({ code: 'card_expired' });
    expect(() => parseCard(JSON.stringify({ ...card, v: 2 }))).toThrow(expect.objectContaining({ code: 'card_version' }));
    expect(() => parseCard('hello')).toThrow(expect.objectContaining({ code: 'card_malformed' }));
    await expect(createCard(identity, { domain: 'b.example', federationUrl: 'http://fed.b.example' })).rejects.toMatchObject({ code: 'invalid_url' });
  });

  it('verifies a card signed by an earlier release, with every optional field', async () => {
    // Signed when the canonical form sorted its keys with localeCompare (en-US); with code-point
    // order the bytes are the same, so cards already exchanged keep verifying.
    const earlier = parseCard(
      '{"v":1,"domain":"a.example","federationUrl":"https://a.example:8443","fileProxyUrl":"https://files.a.example","relay":"turns:relay.a.example:5349","publicKey":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw","issued":"2026-12-05T00:00:00.000Z","expires":"2036-12-02T00:00:00.000Z","sig":"74rvkhmrbyTZwsuUttIX5zsCqvJv3gg81bF4pM41tAe8-RofBJo58xN_xaSdmfJVAiX5_GPSQNOy-0fc1LWwAQ"}',
    );
    expect((await verifyCard(earlier, new Date('2027-01-01T00:00:00.000Z'))).fingerprint).toBe('72as-yext-vngo-nlc5-w2nm-guxz');
    await expect(verifyCard({ ...earlier, relay: 'turns:relay.b.example:5349' }, new Date('2027-01-01T00:00:00.000Z'))).rejects.toMatchObject({
      code: 'card_bad_signature',
    });
  });

  it('parser only ever fails with card_malformed or card_version on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => 'consulate-card:' + Buffer.from(s).toString('base64url')),
          fc.json(),
        ),
        (input) => {
          try {
            parseCard(input);
          } catch (error) {
            expect(['card_malformed', 'card_version']).toContain((error as { code?: string }).code);
          }
        },
      ),
    );
  });
});

describe('whitelist', () => {
  let store: Store;
  let whitelist: Whitelist;
  let peerIdentity: IdentityKey;
  let card: Card;

  beforeEach(async () => {
    store = await openStore({ dataDir: tempDir(), logger });
    whitelist = new Whitelist(store.db, { ownDomain: 'a.example' });
    peerIdentity = await newIdentity();
    card = await createCard(peerIdentity, { domain: 'b.example', federationUrl: 'https://fed.b.example' });
  });
  afterEach(() => store.close());

  it('adds a peer from a card with default capabilities, pins its key and audits the change', async () => {
    const changed: string[] = [];
    whitelist.on('changed', (d) => changed.push(d));
    const { peer, created } = await whitelist.importCard(card, 'admin');
    expect(created).toBe(true);
    expect(peer).toMatchObject({ domain: 'b.example', state: 'active', capabilities: { lookup: true, messages: true, files: false, calls: false } });
    expect(peer.keys.map((k) => k.fingerprint)).toEqual([peerIdentity.fingerprint]);
    expect(changed).toEqual(['b.example']);
    expect((await listAudit(store.db))[0]).toMatchObject({ actor: 'admin', action: 'peer.add', target: 'b.example' });
    expect(await verifyAuditChain(store.db)).toBeUndefined();
  });

  it('refuses a card with an unpinned key for a known peer, and leaves the pins as they were', async () => {
    await whitelist.importCard(card, 'admin');
    const impostor = await createCard(await newIdentity(), { domain: 'b.example', federationUrl: 'https://fed.b.example' });
    await expect(whitelist.importCard(impostor, 'admin')).rejects.toMatchObject({ code: 'key_mismatch' });
    expect((await whitelist.require('b.example')).keys.map((k) => k.publicKey)).toEqual([card.publicKey]);
    const replaced = await whitelist.importCard(impostor, 'admin', { replaceKey: true });
    expect(replaced.peer.keys.map((k) => k.publicKey)).toEqual([impostor.publicKey]);
  });

  it('suspends, resumes and severs with confirmation; refuses its own domain and bad URLs', async () => {
    await whitelist.importCard(card, 'admin');
    expect((await whitelist.setState('b.example', 'suspended', 'admin')).state).toBe('suspended');
    expect((await whitelist.setState('b.example', 'active', 'admin')).state).toBe('active');
    await expect(whitelist.remove('b.example', 'admin', 'c.example')).rejects.toMatchObject({ code: 'confirmation_required' });
    expect(await whitelist.get('b.example')).toBeDefined();
    const purged: string[] = [];
    whitelist.onSever(async (d) => {
      purged.push(d);
    });
    await whitelist.remove('B.EXAMPLE', 'admin', 'b.example');
    expect(await whitelist.get('b.example')).toBeUndefined();
    expect(purged).toEqual(['b.example']);
    await expect(whitelist.add({ domain: 'a.example', federationUrl: 'https://x.example', publicKey: card.publicKey }, 'admin')).rejects.toMatchObject({
      code: 'peer_is_self',
    });
    await expect(whitelist.add({ domain: 'c.example', federationUrl: 'http://x.example', publicKey: card.publicKey }, 'admin')).rejects.toMatchObject({
      code: 'invalid_url',
    });
    await expect(whitelist.add({ domain: 'not a domain', federationUrl: 'https://x.example', publicKey: card.publicKey }, 'admin')).rejects.toMatchObject({
      code: 'invalid_domain',
    });
    expect((await listAudit(store.db)).map((a) => a.action)).toEqual(['peer.sever', 'peer.resume', 'peer.suspend', 'peer.add']);
  });

  it('normalises internationalised domains', async () => {
    const idn = await createCard(peerIdentity, { domain: 'bücher.example', federationUrl: 'https://fed.xn--bcher-kva.example' });
    const { peer } = await whitelist.importCard(idn, 'admin');
    expect(peer.domain).toBe('xn--bcher-kva.example');
    expect(await whitelist.get('BÜCHER.example')).toBeDefined();
  });

  it('keeps a rotated-out key pinned until its grace period ends', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    whitelist = new Whitelist(store.db, { ownDomain: 'a.example', now: () => now });
    await whitelist.importCard(card, 'admin');
    const next = await newIdentity();
    await whitelist.pinKey('b.example', next.id, { source: 'rotation' }, 'peer:b.example');
    await whitelist.expireKey('b.example', card.publicKey, '2026-01-08T00:00:00Z', 'peer:b.example');
    expect((await whitelist.pinnedKeys('b.example')).map((k) => k.publicKey).sort()).toEqual([card.publicKey, next.id].sort());
    now = new Date('2026-01-09T00:00:00Z');
    expect((await whitelist.pinnedKeys('b.example')).map((k) => k.publicKey)).toEqual([next.id]);
  });

  it('detects tampering with the audit log', async () => {
    await whitelist.importCard(card, 'admin');
    await whitelist.setState('b.example', 'suspended', 'admin');
    await store.db.updateTable('audit_log').set({ actor: 'someone-else' }).where('action', '=', 'peer.add').execute();
    expect(await verifyAuditChain(store.db)).toBe(1);
  });
});
