import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, prepareAppliance, waitFor, type Appliance } from '../helpers/appliance.js';
import { HomeClient, bodyText, type InboundItem } from '../helpers/home-client.js';
import { tempDir } from '../helpers/service-process.js';
import { createTestCa } from '../helpers/test-ca.js';

const up = (peer: string) => `consulate_peer_link_up{peer="${peer}",direction="outbound"}`;

async function apiKey(appliance: Appliance): Promise<string> {
  const created = await appliance.cli(['apikey', 'create', 'test home']);
  expect(created.code, created.stderr).toBe(0);
  return created.stdout.trim();
}

/** Every body exactly once and in the order sent. */
function expectExactlyOnceInOrder(items: InboundItem[], bodies: string[]): void {
  const got = items.filter((i) => i.type === 'message').map(bodyText);
  expect(new Set(got).size, 'duplicates').toBe(got.length);
  expect(got).toEqual(bodies);
}

describe('federated messaging between two appliances', () => {
  let a: Appliance;
  let b: Appliance;
  let homeA: HomeClient;
  let homeB: HomeClient;
  let keyB = '';

  const restartB = async () => {
    await b.start();
    homeB.baseUrl = b.service!.homeUrl;
    await waitFor(async () => (await metric(a.service!, up('b.example'))) === 1, 20_000, 'a→b link up again');
  };

  beforeAll(async () => {
    const ca = createTestCa();
    [a, b] = await Promise.all([prepareAppliance('a.example', ca), prepareAppliance('b.example', ca)]);
    const dir = tempDir();
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const file = join(dir, `${from.domain}.json`);
      expect((await from.cli(['card', 'export', '--out', file])).code).toBe(0);
      expect((await to.cli(['card', 'import', file, '--yes'])).code).toBe(0);
    }
    const keyA = await apiKey(a);
    keyB = await apiKey(b);
    await Promise.all([a.start(), b.start()]);
    homeA = new HomeClient(a.service!.homeUrl, keyA);
    homeB = new HomeClient(b.service!.homeUrl, keyB);
    expect((await homeA.putUser('alice', new Uint8Array([1, 2, 3]), 'Alice')).status).toBe(200);
    expect((await homeB.putUser('bob', new Uint8Array([4, 5, 6]), 'Bob')).status).toBe(200);
    await waitFor(async () => (await metric(a.service!, up('b.example'))) === 1 && (await metric(b.service!, up('a.example'))) === 1, 20_000, 'links up');
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.service?.stop('SIGKILL'), b?.service?.stop('SIGKILL')]);
  });

  it('looks users up across the federation with a result per user', async () => {
    const { status, body } = await homeA.call<{ results: Array<{ user: string; status: string; displayName?: string; keyBundle?: string }> }>(
      'POST',
      '/v1/lookup',
      {
        users: ['bob@b.example', 'nobody@b.example', 'carol@c.example', 'alice@a.example'],
      },
    );
    expect(status).toBe(200);
    expect(body.results).toEqual([
      expect.objectContaining({ user: 'bob@b.example', status: 'found', displayName: 'Bob', keyBundle: Buffer.from([4, 5, 6]).toString('base64') }),
      expect.objectContaining({ user: 'nobody@b.example', status: 'not_found' }),
      expect.objectContaining({ user: 'carol@c.example', status: 'not_whitelisted' }),
      expect.objectContaining({ user: 'alice@a.example', status: 'found' }),
    ]);
  });

  it('delivers both ways exactly once, in order, marked external with their origin', async () => {
    const bodies = Array.from({ length: 300 }, (_, i) => `a→b ${i}`);
    const sent = await homeA.send('alice@a.example', ['bob@b.example'], bodies);
    expect(sent.status).toBe(202);
    const items = await homeB.receive(300);
    expectExactlyOnceInOrder(items, bodies);
    expect(items.every((i) => i.external && i.origin === 'a.example' && i.from === 'alice@a.example')).toBe(true);

    const back = await homeB.send('bob@b.example', ['alice@a.example'], ['b→a 0', 'b→a 1']);
    expect(back.status).toBe(202);
    expectExactlyOnceInOrder(await homeA.receive(2), ['b→a 0', 'b→a 1']);
  });

  it('refuses bad submissions with stable codes and stores nothing of them', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ envelopes: [{ id: 'not-a-ulid', from: 'alice@a.example', to: ['bob@b.example'], type: 'message', ts: 1, body: '' }] }, 400, 'bad_request'],
      [
        { envelopes: [{ id: '01J00000000000000000000000', from: 'mallory@a.example', to: ['bob@b.example'], type: 'message', ts: 1, body: '' }] },
        403,
        'unknown_sender',
      ],
      [
        { envelopes: [{ id: '01J00000000000000000000001', from: 'alice@a.example', to: ['bob@c.example'], type: 'message', ts: 1, body: '' }] },
        403,
        'not_whitelisted',
      ],
      [
        { envelopes: [{ id: '01J00000000000000000000002', from: 'alice@a.example', to: ['bob@b.example'], type: 'call', ts: 1, body: '' }] },
        403,
        'capability_denied',
      ],
      [
        {
          envelopes: [
            {
              id: '01J00000000000000000000003',
              from: 'alice@a.example',
              to: ['bob@b.example'],
              type: 'message',
              ts: 1,
              body: Buffer.alloc(300 * 1024).toString('base64'),
            },
          ],
        },
        413,
        'too_large',
      ],
    ];
    for (const [body, status, code] of cases) {
      const result = await homeA.call<{ error: { code: string } }>('POST', '/v1/envelopes', body);
      expect([result.status, result.body.error.code]).toEqual([status, code]);
    }
    // The body itself: not JSON, a smuggled __proto__, compressed, or announcing more than 64 MiB — refused before any handler.
    const one = (extra: string) =>
      `{"envelopes":[{${extra}"id":"01J00000000000000000000006","from":"alice@a.example","to":["bob@b.example"],"type":"message","ts":1,"body":""}]}`;
    expect(await homeA.raw('/v1/envelopes', '{"envelopes": [')).toEqual({ status: 400, code: 'bad_request' });
    expect(await homeA.raw('/v1/envelopes', one('"__proto__":{"from":"bob@b.example"},'))).toEqual({ status: 400, code: 'bad_request' });
    expect(await homeA.raw('/v1/envelopes', one(''), { 'content-encoding': 'gzip' })).toEqual({
      status: 415,
      code: 'bad_request',
    });
    expect(await homeA.raw('/v1/envelopes', '{"envelopes":[', {}, 64 * 1024 * 1024 + 1)).toEqual({ status: 413, code: 'too_large' });
    // A chunked body (no Content-Length) is read whole: this one parses and reaches the sender check.
    expect(await homeA.raw('/v1/envelopes', one('').replace('alice@', 'mallory@'))).toEqual({ status: 403, code: 'unknown_sender' });
    // So is a +json media type with a UTF-8 byte order mark.
    expect(await homeA.raw('/v1/envelopes', `\ufeff${one('').replace('alice@', 'mallory@')}`, { 'content-type': 'application/vnd.api+json' })).toEqual({
      status: 403,
      code: 'unknown_sender',
    });
    // A batch with one bad envelope stores none of the good ones either.
    const good = { id: '01J00000000000000000000004', from: 'alice@a.example', to: ['bob@b.example'], type: 'message', ts: 1, body: '' };
    const mixed = await homeA.call<{ error: { code: string } }>('POST', '/v1/envelopes', {
      envelopes: [good, { ...good, id: '01J00000000000000000000005', to: ['x@c.example'] }],
    });
    expect(mixed.status).toBe(403);
    const bad = await new HomeClient(homeA.baseUrl, 'csk_nope_nope').call<{ error: { code: string } }>('GET', '/v1/directory');
    expect([bad.status, bad.body.error.code]).toEqual([401, 'unauthorized']);
    expect(await metric(a.service!, 'consulate_outbox_depth{peer="b.example"}')).toBe(0);
    expect(await homeB.receive(1, 1500)).toEqual([]);
  });

  it('queues while the peer is down and drains exactly once when it is back', async () => {
    await b.service!.stop('SIGTERM');
    const bodies = Array.from({ length: 200 }, (_, i) => `offline ${i}`);
    for (let i = 0; i < bodies.length; i += 50) expect((await homeA.send('alice@a.example', ['bob@b.example'], bodies.slice(i, i + 50))).status).toBe(202);
    expect(await metric(a.service!, 'consulate_outbox_depth{peer="b.example"}')).toBe(200);
    await restartB();
    expectExactlyOnceInOrder(await homeB.receive(200), bodies);
    await waitFor(async () => (await metric(a.service!, 'consulate_outbox_depth{peer="b.example"}')) === 0, 10_000, 'outbox drained');
    // The WAL went into the database file from the checkpoint thread, not from a commit on the service's thread.
    for (const side of [a, b])
      await waitFor(async () => ((await metric(side.service!, 'consulate_db_checkpoints_total')) ?? 0) > 0, 3000, 'a background checkpoint');
  }, 60_000);

  it('delivers exactly once when the receiver is killed with SIGKILL in the middle of batches', async () => {
    const bodies = Array.from({ length: 6000 }, (_, i) => `kill-b ${i}`);
    const submitting = (async () => {
      for (let i = 0; i < bodies.length; i += 500) expect((await homeA.send('alice@a.example', ['bob@b.example'], bodies.slice(i, i + 500))).status).toBe(202);
    })();
    await waitFor(async () => ((await metric(b.service!, 'consulate_envelopes_received_total{peer="a.example"}')) ?? 0) > 0, 10_000, 'b receiving');
    await b.service!.stop('SIGKILL');
    await submitting;
    await restartB();
    expectExactlyOnceInOrder(await homeB.receive(6000, 40_000), bodies);
  }, 90_000);

  it('delivers exactly once when the sender is killed with SIGKILL right after a 202', async () => {
    const bodies = ['after-202 0', 'after-202 1', 'after-202 2'];
    const sent = await homeA.send('alice@a.example', ['bob@b.example'], bodies);
    expect(sent.status).toBe(202);
    await a.service!.stop('SIGKILL');
    await a.start();
    homeA.baseUrl = a.service!.homeUrl;
    expectExactlyOnceInOrder(await homeB.receive(3), bodies);
    expect(await homeB.receive(1, 2000)).toEqual([]);
  }, 60_000);

  it('recalls: before delivery it never arrives; after delivery a recall event follows', async () => {
    await waitFor(async () => (await metric(a.service!, up('b.example'))) === 1, 20_000, 'link up');
    // After delivery: B's home has it; the recall event reaches B.
    const delivered = await homeA.send('alice@a.example', ['bob@b.example'], ['to be recalled later']);
    const [original] = await homeB.receive(1);
    expect(original?.id).toBe(delivered.ids[0]);
    const after = await homeA.call<{ removedFrom: string[]; recallSentTo: string[] }>('POST', `/v1/envelopes/${delivered.ids[0]}/recall`, {
      from: 'alice@a.example',
    });
    expect(after.body).toEqual({ removedFrom: [], recallSentTo: ['b.example'] });
    const [recall] = await homeB.receive(1);
    expect(recall).toMatchObject({ type: 'recall', ref: delivered.ids[0], origin: 'a.example' });

    // Before delivery: B is down, so the envelope waits in A's outbox and the recall removes it.
    await b.service!.stop('SIGTERM');
    const pending = await homeA.send('alice@a.example', ['bob@b.example'], ['never delivered']);
    const before = await homeA.call<{ removedFrom: string[]; recallSentTo: string[] }>('POST', `/v1/envelopes/${pending.ids[0]}/recall`, {
      from: 'alice@a.example',
    });
    expect(before.body).toEqual({ removedFrom: ['b.example'], recallSentTo: [] });
    await restartB();
    const late = await homeB.send('bob@b.example', ['alice@a.example'], ['marker']);
    expect(late.status).toBe(202);
    expect(await homeB.receive(1, 2500)).toEqual([]);
  }, 60_000);

  it('recalls an envelope that was on its way: once the peer has stored it, a recall follows', async () => {
    await waitFor(async () => (await metric(a.service!, up('b.example'))) === 1, 20_000, 'link up');
    const received = 'consulate_envelopes_received_total{peer="a.example"}';
    const before = (await metric(b.service!, received)) ?? 0;
    // B frozen: A sends the batch, but no ack can come back while the home recalls it.
    b.service!.child.kill('SIGSTOP');
    try {
      const sent = await homeA.send('alice@a.example', ['bob@b.example'], ['recalled on its way']);
      expect(sent.status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const recalled = await homeA.call<{ removedFrom: string[]; recallSentTo: string[] }>('POST', `/v1/envelopes/${sent.ids[0]}/recall`, {
        from: 'alice@a.example',
      });
      expect(recalled.status).toBe(200);
      b.service!.child.kill('SIGCONT');
      // B stores the original from the batch it already had; the recall that follows removes it
      // from B's inbox before its home took it, so the home sees the recall event only.
      await waitFor(async () => ((await metric(b.service!, received)) ?? 0) >= before + 2, 10_000, 'original and recall stored at B');
      const [event] = await homeB.receive(1, 10_000);
      expect(event).toMatchObject({ type: 'recall', ref: sent.ids[0], origin: 'a.example' });
      expect(await homeB.receive(1, 1500)).toEqual([]);
    } finally {
      b.service!.child.kill('SIGCONT');
    }
  }, 60_000);

  it('recalls, after a restart of the sender, an envelope that was on its way when the sender died', async () => {
    await waitFor(async () => (await metric(a.service!, up('b.example'))) === 1, 20_000, 'link up');
    // B frozen: the batch waits in its socket; A is killed before any answer and started again.
    b.service!.child.kill('SIGSTOP');
    let id: string | undefined;
    try {
      const sent = await homeA.send('alice@a.example', ['bob@b.example'], ['on its way when the sender died']);
      expect(sent.status).toBe(202);
      id = sent.ids[0] as string;
      await new Promise((resolve) => setTimeout(resolve, 500));
      await a.service!.stop('SIGKILL');
      await a.start();
      homeA.baseUrl = a.service!.homeUrl;
      const recalled = await homeA.call<{ removedFrom: string[]; recallSentTo: string[] }>('POST', `/v1/envelopes/${id}/recall`, { from: 'alice@a.example' });
      // Still queued at A, but B may have it: a recall envelope goes too.
      expect(recalled.body).toEqual({ removedFrom: ['b.example'], recallSentTo: ['b.example'] });
    } finally {
      b.service!.child.kill('SIGCONT');
    }
    // B stores the original from the batch it already had; the recall follows it.
    const items: InboundItem[] = [];
    while (!items.some((i) => i.type === 'recall')) {
      const got = await homeB.receive(1, 15_000);
      if (got.length === 0) break;
      items.push(...got);
    }
    expect(items.at(-1)).toMatchObject({ type: 'recall', ref: id, origin: 'a.example' });
    expect(items.slice(0, -1).map((i) => i.id)).toEqual(items.length > 1 ? [id] : []);
  }, 60_000);
});
