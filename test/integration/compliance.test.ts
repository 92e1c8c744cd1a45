import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../service/app.js';
import { EnvelopeArchive } from '../../service/compliance/archive.js';
import { HomeClient } from '../helpers/home-client.js';
import { federate, inProcessAppliance } from '../helpers/in-process.js';
import { tempDir } from '../helpers/service-process.js';
import { createTestCa } from '../helpers/test-ca.js';

describe('compliance: archival and retention', () => {
  let a: Service;
  let b: Service;
  let archiveDir: string;
  let homeA: HomeClient;
  let homeB: HomeClient;

  beforeAll(async () => {
    const ca = createTestCa();
    archiveDir = tempDir('consulate-archive-');
    a = await inProcessAppliance('a.example', ca, { config: { compliance: { metadataRetentionDays: 0 } } });
    b = await inProcessAppliance('b.example', ca, { config: { compliance: { archive: { enabled: true, dir: archiveDir, segmentMB: 1 } } } });
    await federate(a, b);
    homeA = new HomeClient(a.homeUrl, a.apiKeys.create('test').key);
    homeB = new HomeClient(b.homeUrl, b.apiKeys.create('test').key);
    await homeA.putUser('alice', new Uint8Array([1]));
    await homeB.putUser('bob', new Uint8Array([2]));
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('archives every inbound envelope with its ciphertext, in hash-chained segments that verify', async () => {
    const bodies = Array.from({ length: 40 }, (_, i) => `sealed-${i}-${'x'.repeat(40_000)}`);
    const ids: string[] = [];
    for (let i = 0; i < 40; i += 20) {
      const sent = await homeA.send('alice@a.example', ['bob@b.example'], bodies.slice(i, i + 20));
      expect(sent.status).toBe(202);
      ids.push(...sent.ids);
      expect(await homeB.receive(20)).toHaveLength(20);
    }
    await b.stop();
    const archive = new EnvelopeArchive(archiveDir);
    const { segments, records } = archive.verify();
    expect(records).toBe(40);
    expect(segments).toBe(2); // 1 MiB segments: the second batch fills the first, closing it; stop closes the second
    const lines = readdirSync(archiveDir)
      .filter((f) => f.startsWith('segment-'))
      .flatMap((f) => readFileSync(join(archiveDir, f), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as { dir: string; id: string; peer: string; body: string });
    expect(lines.map((l) => l.id)).toEqual(ids);
    expect(lines.every((l) => l.dir === 'in' && l.peer === 'a.example')).toBe(true);
    expect(Buffer.from(lines[0]?.body ?? '', 'base64').toString()).toBe(bodies[0]);

    const victim = join(archiveDir, archive.manifest()[0]?.segment ?? '');
    writeFileSync(victim, readFileSync(victim, 'utf8').replace('"peer":"a.example"', '"peer":"x.example"'));
    expect(() => new EnvelopeArchive(archiveDir).verify()).toThrow(expect.objectContaining({ code: 'archive_tampered' }));
  });

  it('with zero metadata retention, keeps no delivery record once the peer acked', async () => {
    const rows = a.store.sqlite.prepare("select count(*) as n from routed where state != 'queued'").get() as { n: number };
    expect(rows.n).toBe(0);
  });
});
