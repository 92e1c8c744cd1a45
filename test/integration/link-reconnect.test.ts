import { afterAll, describe, expect, it } from 'vitest';
import type { Service } from '../../service/app.js';
import { createCard } from '../../service/federation/card.js';
import type { IdentityKey } from '../../service/identity/identity.js';
import { waitFor } from '../helpers/appliance.js';
import { inProcessAppliance } from '../helpers/in-process.js';
import { createTestCa } from '../helpers/test-ca.js';

async function importCard(from: Service, to: Service): Promise<void> {
  const identity = (await from.localIdentities())[0] as IdentityKey;
  await to.whitelist.importCard(await createCard(identity, { domain: from.config.domain, federationUrl: from.federationUrl }), 'test');
}

describe('reconnecting', () => {
  const services: Service[] = [];
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it('dials at once when the peer proves itself on an inbound link, instead of waiting out a long backoff', async () => {
    const ca = createTestCa();
    // A backoff of 30–60 s from the first failure: without the inbound hint the link would stay down for the whole test.
    const link = { backoff: { baseMs: 60_000, maxMs: 60_000 } };
    const [a, b] = await Promise.all([inProcessAppliance('a.example', ca, { link }), inProcessAppliance('b.example', ca, { link })]);
    services.push(a, b);
    await importCard(b, a);
    // b.example does not know a.example yet: a.example's first dial is refused and it backs off.
    await waitFor(async () => a.peerStatus.get('b.example').outbound === 'refused', 10_000, 'first dial refused');
    const started = Date.now();
    await importCard(a, b);
    await b.links.waitForLink('a.example', 10_000);
    await a.links.waitForLink('b.example', 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
