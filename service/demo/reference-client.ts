import { ulid } from 'ulid';
import { loadSodium } from '../crypto/sodium.js';

export interface ClientKeys {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

interface InboundItem {
  seq: number;
  id: string;
  from: string;
  type: string;
  body: string;
  ref?: string;
  external: boolean;
  origin: string;
}

/**
 * A small reference home client: it keeps each user's crypto_box key pair, publishes the
 * public half as the user's key bundle, and encrypts end to end, so Consulate only ever
 * carries ciphertext. It shows how a home messaging server uses the home API.
 */
export class ReferenceHome {
  readonly #keys = new Map<string, ClientKeys>();

  constructor(
    public baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = (text ? JSON.parse(text) : undefined) as T & { error?: { code: string; message: string } };
    if (!response.ok) throw Object.assign(new Error(`${data?.error?.code ?? response.status}: ${data?.error?.message ?? ''}`), { code: data?.error?.code });
    return data;
  }

  /** Creates the user's key pair and publishes the public key in the directory. */
  async addUser(address: string, displayName: string): Promise<void> {
    const sodium = await loadSodium();
    const pair = sodium.crypto_box_keypair();
    this.#keys.set(address, { publicKey: pair.publicKey, secretKey: pair.privateKey });
    await this.call('PUT', `/v1/directory/${encodeURIComponent(address)}`, { displayName, keyBundle: Buffer.from(pair.publicKey).toString('base64') });
  }

  async lookup(address: string): Promise<{ status: string; displayName?: string; keyBundle?: string }> {
    const { results } = await this.call<{ results: Array<{ status: string; displayName?: string; keyBundle?: string }> }>('POST', '/v1/lookup', {
      users: [address],
    });
    return results[0] as { status: string };
  }

  /** Encrypts with crypto_box to the recipient's looked-up key and submits. Returns the envelope id. */
  async send(from: string, to: string, text: string): Promise<string> {
    const sodium = await loadSodium();
    const sender = this.#keys.get(from);
    if (!sender) throw new Error(`${from} is not a user of this home`);
    const found = await this.lookup(to);
    if (found.status !== 'found' || !found.keyBundle) throw new Error(`cannot send to ${to}: ${found.status}`);
    const nonce = sodium.randombytes_buf(sodium.crypto_box_NONCEBYTES);
    const sealed = sodium.crypto_box_easy(sodium.from_string(text), nonce, Buffer.from(found.keyBundle, 'base64'), sender.secretKey);
    const id = ulid();
    const body = Buffer.concat([nonce, sealed]).toString('base64');
    await this.call('POST', '/v1/envelopes', { envelopes: [{ id, from, to: [to], type: 'message', ts: Date.now(), body }] });
    return id;
  }

  async recall(id: string, from: string): Promise<{ removedFrom: string[]; recallSentTo: string[] }> {
    return this.call('POST', `/v1/envelopes/${id}/recall`, { from });
  }

  /** Waits for inbound items, decrypting messages with the sender's looked-up key; acknowledges them. */
  async receive(
    user: string,
    count: number,
    timeoutMs = 15_000,
  ): Promise<Array<{ id: string; type: string; from: string; origin: string; external: boolean; text?: string; ref?: string }>> {
    const sodium = await loadSodium();
    const me = this.#keys.get(user);
    if (!me) throw new Error(`${user} is not a user of this home`);
    const out: Array<{ id: string; type: string; from: string; origin: string; external: boolean; text?: string; ref?: string }> = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) {
      const { items } = await this.call<{ items: InboundItem[] }>('GET', `/v1/inbound?after=0&wait=1&limit=100`);
      for (const item of items) {
        let text: string | undefined;
        if (item.type === 'message') {
          const sender = await this.lookup(item.from);
          const bytes = Buffer.from(item.body, 'base64');
          const nonce = bytes.subarray(0, sodium.crypto_box_NONCEBYTES);
          text = sodium.to_string(
            sodium.crypto_box_open_easy(bytes.subarray(sodium.crypto_box_NONCEBYTES), nonce, Buffer.from(sender.keyBundle ?? '', 'base64'), me.secretKey),
          );
        }
        out.push({
          id: item.id,
          type: item.type,
          from: item.from,
          origin: item.origin,
          external: item.external,
          ...(text !== undefined ? { text } : {}),
          ...(item.ref ? { ref: item.ref } : {}),
        });
      }
      if (items.length) await this.call('POST', '/v1/inbound/ack', { ids: items.map((i) => i.id) });
    }
    return out;
  }
}
