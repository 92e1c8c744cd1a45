import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { WebSocket } from 'ws';
import type { Service } from '../../service/app.js';
import { waitFor } from '../helpers/appliance.js';
import { HomeClient, bodyText, type InboundItem } from '../helpers/home-client.js';
import { federate, inProcessAppliance } from '../helpers/in-process.js';
import { createTestCa } from '../helpers/test-ca.js';

function stream(home: Service, key: string): { ws: WebSocket; items: InboundItem[]; ready: Promise<void> } {
  const ws = new WebSocket(`${home.homeUrl.replace('http', 'ws')}/v1/inbound/stream`, { headers: { authorization: `Bearer ${key}` } });
  const items: InboundItem[] = [];
  ws.on('message', (data: Buffer) => items.push(...(JSON.parse(data.toString()) as { items: InboundItem[] }).items));
  return { ws, items, ready: new Promise((resolve) => ws.once('open', () => resolve())) };
}

describe('home API: stream, suspend, queue cap, sever', () => {
  let a: Service;
  let b: Service;
  let homeA: HomeClient;
  let keyB = '';

  beforeAll(async () => {
    const ca = createTestCa();
    [a, b] = await Promise.all([inProcessAppliance('a.example', ca), inProcessAppliance('b.example', ca)]);
    await federate(a, b);
    homeA = new HomeClient(a.homeUrl, a.apiKeys.create('test').key);
    keyB = b.apiKeys.create('test').key;
    await homeA.putUser('alice', new Uint8Array([1]));
    await new HomeClient(b.homeUrl, keyB).putUser('bob', new Uint8Array([2]));
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('streams inbound envelopes over WebSocket and sends unacknowledged ones again after a reconnect', async () => {
    const first = stream(b, keyB);
    await first.ready;
    await homeA.send('alice@a.example', ['bob@b.example'], ['one', 'two', 'three']);
    await waitFor(async () => first.items.length === 3, 10_000, 'three streamed');
    expect(first.items.map(bodyText)).toEqual(['one', 'two', 'three']);
    first.ws.send(JSON.stringify({ ack: [first.items[0]?.id] }));
    await new Promise((r) => setTimeout(r, 200));
    first.ws.close();
    const second = stream(b, keyB);
    await second.ready;
    await waitFor(async () => second.items.length === 2, 10_000, 'two redelivered');
    expect(second.items.map(bodyText)).toEqual(['two', 'three']);
    second.ws.send(JSON.stringify({ ack: second.items.map((i) => i.id) }));
    await new Promise((r) => setTimeout(r, 200));
    second.ws.close();
    expect(b.queue.inboxDepth()).toBe(0);
  });

  it('pushes a new batch straight to a caught-up stream, but never past items the stream has not seen yet', async () => {
    const live = stream(b, keyB);
    await live.ready;
    await homeA.send('alice@a.example', ['bob@b.example'], ['first']);
    await waitFor(async () => live.items.length === 1, 10_000, 'first streamed');
    // An item stored without waking the stream (as an undeliverable event would be) sits
    // between what the stream has seen and the next batch from the peer.
    const quiet = {
      id: ulid(),
      from: 'alice@a.example',
      to: ['bob@b.example'],
      type: 'message' as const,
      ts: Date.now(),
      body: new TextEncoder().encode('quiet'),
    };
    const stored = b.queue.receive('a.example', [quiet], Date.now());
    expect(stored.inserted.map((row) => row.envId)).toEqual([quiet.id]);
    await homeA.send('alice@a.example', ['bob@b.example'], ['second']);
    await waitFor(async () => live.items.length === 3, 10_000, 'quiet and second streamed');
    expect(live.items.map(bodyText)).toEqual(['first', 'quiet', 'second']);
    expect(new Set(live.items.map((i) => i.seq)).size).toBe(3);
    live.ws.send(JSON.stringify({ ack: live.items.map((i) => i.id) }));
    await waitFor(async () => b.queue.inboxDepth() === 0, 5000, 'inbox empty after the acks');
    live.ws.close();
  });

  it('does not hand out an original that a recall in the same batch removed', () => {
    const original = { id: ulid(), from: 'alice@a.example', to: ['bob@b.example'], type: 'message' as const, ts: Date.now(), body: new Uint8Array([1]) };
    const recall = {
      id: ulid(),
      from: 'alice@a.example',
      to: ['bob@b.example'],
      type: 'recall' as const,
      ts: Date.now(),
      body: new Uint8Array(0),
      ref: original.id,
    };
    const result = b.queue.receive('a.example', [original, recall], Date.now());
    expect(result.stored).toEqual([original.id, recall.id]);
    expect(result.recalledFromInbox).toEqual([original.id]);
    expect(result.inserted.map((row) => row.envId)).toEqual([recall.id]);
    expect(b.queue.ack([recall.id])).toBe(1);
  });

  it('sends a recall after an envelope whose batch got no answer, recalled on its way or before it went again', async () => {
    const homeB = new HomeClient(b.homeUrl, keyB);
    // B's home gets the recall event, after the original if it took that before the recall came.
    const expectRecallFollows = async (id: string) => {
      const items: InboundItem[] = [];
      while (items.length < 2 && !items.some((i) => i.type === 'recall')) {
        const got = await homeB.receive(1, 10_000);
        if (got.length === 0) break;
        items.push(...got);
      }
      expect(items.at(-1)).toMatchObject({ type: 'recall', ref: id });
      expect(items.slice(0, -1).map((i) => i.id)).toEqual(items.length > 1 ? [id] : []);
      expect(await homeB.receive(1, 1000)).toEqual([]);
    };
    const store = b.queue;
    const receive = store.receive.bind(store);
    // Fault: B commits a batch, then fails before answering, so A cannot know the batch was stored.
    let faults = 0;
    let whileStoring: ((ids: string[]) => void) | undefined;
    store.receive = (origin, envelopes, now) => {
      const result = receive(origin, envelopes, now);
      if (faults === 0) return result;
      faults--;
      whileStoring?.(envelopes.map((e) => e.id));
      throw new Error('the answer is lost after the commit');
    };
    try {
      // Recalled while its batch is at B; the answer never comes.
      let recalled: Promise<{ removedFrom: string[]; recallSentTo: string[] }> | undefined;
      faults = 1;
      whileStoring = (ids) => (recalled ??= a.router.recall(ids[0] as string, 'alice@a.example'));
      const onItsWay = await homeA.send('alice@a.example', ['bob@b.example'], ['recalled on its way, answer lost']);
      await waitFor(async () => recalled !== undefined, 10_000, 'the batch reached B');
      expect(await recalled).toEqual({ removedFrom: ['b.example'], recallSentTo: [] });
      await expectRecallFollows(onItsWay.ids[0] as string);

      // Sent, unanswered, queued again for a retry, and recalled before the retry.
      whileStoring = undefined;
      faults = Number.POSITIVE_INFINITY;
      const retried = await homeA.send('alice@a.example', ['bob@b.example'], ['recalled while waiting for a retry']);
      await waitFor(async () => (a.queue.retryState('b.example')?.attempts ?? 0) >= 2, 10_000, 'two unanswered attempts');
      const answer = await homeA.call<{ removedFrom: string[]; recallSentTo: string[] }>('POST', `/v1/envelopes/${retried.ids[0]}/recall`, {
        from: 'alice@a.example',
      });
      expect(answer.body).toEqual({ removedFrom: ['b.example'], recallSentTo: ['b.example'] });
      faults = 0;
      await expectRecallFollows(retried.ids[0] as string);
    } finally {
      store.receive = receive;
    }
  }, 30_000);

  it('refuses a stream without a valid key', async () => {
    const ws = new WebSocket(`${b.homeUrl.replace('http', 'ws')}/v1/inbound/stream`, { headers: { authorization: 'Bearer csk_x_y' } });
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('closes a stream whose message is over 4 MiB with 1009, and goes on serving', async () => {
    const { key } = a.apiKeys.create('oversized sender');
    const ws = new WebSocket(`${a.homeUrl.replace('http', 'ws')}/v1/inbound/stream`, { headers: { authorization: `Bearer ${key}` } });
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(4 * 1024 * 1024 + 1));
    expect(await closed).toBe(1009);
    expect((await fetch(`${a.homeUrl}/v1/health`)).status).toBe(200);
  });

  it('takes submissions on the stream in order without waiting for each answer, refuses bad ones whole, and closes the stream when its key is revoked', async () => {
    const { key, info } = a.apiKeys.create('stream sender');
    const sender = new WebSocket(`${a.homeUrl.replace('http', 'ws')}/v1/inbound/stream`, { headers: { authorization: `Bearer ${key}` } });
    const answers: Array<{ submitted?: { accepted: string[]; duplicates: string[] }; error?: { code: string; message: string }; tag?: unknown }> = [];
    sender.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as (typeof answers)[number] & { items?: unknown };
      if (!message.items) answers.push(message);
    });
    await new Promise((resolve) => sender.once('open', resolve));
    const receiver = stream(b, keyB);
    await receiver.ready;
    const envelope = (text: string, from = 'alice@a.example') => ({
      id: ulid(),
      from,
      to: ['bob@b.example'],
      type: 'message',
      ts: Date.now(),
      body: Buffer.from(text).toString('base64'),
    });

    // Twenty submissions sent back to back: answered in order after their commits, delivered in order.
    const sent = Array.from({ length: 20 }, (_, i) => envelope(`s${i}`));
    sent.forEach((e, i) => sender.send(JSON.stringify({ submit: { envelopes: [e] }, tag: i })));
    await waitFor(async () => answers.length === 20, 10_000, 'twenty answers');
    expect(answers.map((m) => m.tag)).toEqual(sent.map((_, i) => i));
    expect(answers.map((m) => m.submitted?.accepted[0])).toEqual(sent.map((e) => e.id));
    await waitFor(async () => receiver.items.length === 20, 10_000, 'twenty delivered');
    expect(receiver.items.map(bodyText)).toEqual(sent.map((_, i) => `s${i}`));
    receiver.ws.send(JSON.stringify({ ack: receiver.items.map((i) => i.id) }));

    // Refusals: each answered with its code and tag, the stream stays open, nothing of them is stored.
    answers.length = 0;
    const unknownSender = envelope('x', 'mallory@a.example');
    const good = envelope('never stored: it shares a submission with a bad one');
    sender.send(JSON.stringify({ submit: { envelopes: [good, unknownSender] }, tag: 'mixed' }));
    sender.send(JSON.stringify({ submit: { envelopes: [{ ...envelope('y'), body: 'not base64!' }] }, tag: 'body' }));
    sender.send('not json');
    sender.send(JSON.stringify({ submit: { envelopes: [sent[0]] }, tag: 'again' }));
    await waitFor(async () => answers.length === 4, 10_000, 'four answers');
    expect(answers.find((m) => m.tag === 'mixed')?.error?.code).toBe('unknown_sender');
    expect(answers.find((m) => m.tag === 'body')?.error?.code).toBe('bad_request');
    expect(answers.find((m) => m.tag === undefined)?.error?.code).toBe('bad_request');
    expect(answers.find((m) => m.tag === 'again')?.submitted).toEqual({ accepted: [], duplicates: [sent[0]?.id] });
    expect(a.queue.routedSenders([good.id, unknownSender.id]).size).toBe(0);

    // Revoking the key closes the stream at its next message, and that message is not taken.
    a.apiKeys.revoke(info.id);
    const late = envelope('after revocation');
    const closed = new Promise<number>((resolve) => sender.once('close', (code: number) => resolve(code)));
    sender.send(JSON.stringify({ submit: { envelopes: [late] } }));
    expect(await closed).toBe(4401);
    expect(a.queue.routedSenders([late.id]).size).toBe(0);
    await waitFor(async () => b.queue.inboxDepth() === 0, 10_000, 'inbox acknowledged');
    receiver.ws.close();
  });

  it('shows queues to the operator, and purges one only with confirmation, telling the senders', async () => {
    const login = await fetch(`${a.adminUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: a.loginToken }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const { csrf } = (await login.json()) as { csrf: string };
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${a.adminUrl}/api${path}`, {
        method,
        headers: { cookie, 'x-consulate-csrf': csrf, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    await a.whitelist.setState('b.example', 'suspended', 'test');
    await homeA.send('alice@a.example', ['bob@b.example'], ['q1', 'q2']);
    const queues = (await (await admin('GET', '/queues')).json()) as {
      peers: Array<{ peer: string; depth: number; oldestAgeMs: number | null; linkUp: boolean }>;
    };
    expect(queues.peers.find((p) => p.peer === 'b.example')).toMatchObject({ depth: 2, linkUp: false, oldestAgeMs: expect.any(Number) });
    const refused = await admin('DELETE', '/queues/b.example', { confirm: 'c.example' });
    expect(refused.status).toBe(400);
    expect(a.queue.depth('b.example')).toBe(2);
    const purged = await admin('DELETE', '/queues/b.example', { confirm: 'b.example' });
    expect(await purged.json()).toEqual({ purged: 2 });
    expect(a.queue.depth('b.example')).toBe(0);
    const events = await homeA.receive(2, 3000);
    expect(events.map((e) => [e.type, JSON.parse(bodyText(e)).code])).toEqual([
      ['undeliverable', 'purged'],
      ['undeliverable', 'purged'],
    ]);
    await a.whitelist.setState('b.example', 'active', 'test');
  });

  it('treats a resubmitted request as a no-op per envelope, and applies a capability change to the next request', async () => {
    const receiver = new HomeClient(b.homeUrl, keyB);
    const envelope = (id: string, body: string) => ({
      id,
      from: 'alice@a.example',
      to: ['bob@b.example'],
      type: 'message',
      ts: Date.now(),
      body: Buffer.from(body).toString('base64'),
    });
    const [r1, r2, r3] = [ulid(), ulid(), ulid()];
    const first = await homeA.call<{ accepted: string[]; duplicates: string[] }>('POST', '/v1/envelopes', {
      envelopes: [envelope(r1, 'r1'), envelope(r2, 'r2')],
    });
    expect(first.status).toBe(202);
    const again = await homeA.call<{ accepted: string[]; duplicates: string[] }>('POST', '/v1/envelopes', {
      envelopes: [envelope(r1, 'r1'), envelope(r2, 'r2'), envelope(r3, 'r3')],
    });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: [r3], duplicates: [r1, r2] });
    expect((await receiver.receive(3)).map(bodyText)).toEqual(['r1', 'r2', 'r3']);

    await a.whitelist.update('b.example', { capabilities: { messages: false } }, 'test');
    const denied = await homeA.send('alice@a.example', ['bob@b.example'], ['denied']);
    expect(denied.status).toBe(403);
    expect((denied.body as { error: { code: string } }).error.code).toBe('capability_denied');
    expect(a.queue.depth('b.example')).toBe(0);
    await a.whitelist.update('b.example', { capabilities: { messages: true } }, 'test');
    expect((await homeA.send('alice@a.example', ['bob@b.example'], ['allowed'])).status).toBe(202);
    expect((await receiver.receive(1)).map(bodyText)).toEqual(['allowed']);
  });

  it('keeps the order when the receiver rate-limits batches that are in flight together', async () => {
    await b.whitelist.update('a.example', { limits: { ratePerSecond: 300 } }, 'test');
    const receiver = new HomeClient(b.homeUrl, keyB);
    const bodies = Array.from({ length: 1200 }, (_, i) => `m${i}`);
    // Queued while suspended, so that the drain has two batches (1000 + 200) in flight at once.
    await a.whitelist.setState('b.example', 'suspended', 'test');
    for (let i = 0; i < bodies.length; i += 100) expect((await homeA.send('alice@a.example', ['bob@b.example'], bodies.slice(i, i + 100))).status).toBe(202);
    await a.whitelist.setState('b.example', 'active', 'test');
    const got = (await receiver.receive(bodies.length, 30_000)).map(bodyText);
    expect(got).toEqual(bodies);
    // Both refusals happened: over the rate, and a chained batch behind a refused one.
    const text = await (await fetch(`${b.adminUrl}/metrics`)).text();
    expect(text).toMatch(/consulate_envelopes_refused_total\{peer="a.example",code="rate_limited"\} [1-9]/);
    expect(text).toMatch(/consulate_envelopes_refused_total\{peer="a.example",code="out_of_order"\} [1-9]/);
    await b.whitelist.update('a.example', { limits: { ratePerSecond: 50_000 } }, 'test');
  }, 40_000);

  it('holds the queue while the peer is suspended, answers queue_full at the cap, and purges on sever', async () => {
    await a.whitelist.update('b.example', { limits: { outboxMax: 5 } }, 'test');
    await a.whitelist.setState('b.example', 'suspended', 'test');
    const held = await homeA.send('alice@a.example', ['bob@b.example'], ['h1', 'h2', 'h3', 'h4', 'h5']);
    expect(held.status).toBe(202);
    const full = await homeA.send('alice@a.example', ['bob@b.example'], ['h6']);
    expect(full.status).toBe(503);
    expect((full.body as { error: { code: string } }).error.code).toBe('queue_full');
    expect(a.queue.depth('b.example')).toBe(5);
    await new Promise((r) => setTimeout(r, 500));
    expect(a.queue.depth('b.example')).toBe(5);
    await expect(a.whitelist.remove('b.example', 'test', 'b.example')).resolves.toBeUndefined();
    expect(a.queue.depth('b.example')).toBe(0);
    expect((a.store.sqlite.prepare("select count(*) as n from outbox where peer = 'b.example'").get() as { n: number }).n).toBe(0);
  });
});
