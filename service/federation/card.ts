import { z } from 'zod';
import { ConsulateError } from '../errors.js';
import { fingerprintOf, sign, verify, type IdentityKey } from '../identity/identity.js';
import { normaliseDomain, normaliseHttpsUrl } from './domain.js';

export const cardVersion = 1;
const textPrefix = 'consulate-card:';

const cardBody = z.strictObject({
  v: z.literal(cardVersion),
  domain: z.string(),
  federationUrl: z.string(),
  fileProxyUrl: z.string().optional(),
  relay: z.string().optional(),
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url Ed25519 public key'),
  issued: z.iso.datetime(),
  expires: z.iso.datetime(),
});
const signedCard = cardBody.extend({ sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/) });

export type CardBody = z.infer<typeof cardBody>;
export type Card = z.infer<typeof signedCard>;

/**
 * Canonical bytes that the signature covers: a domain-separated JSON with its keys in code-point
 * order. Not `localeCompare`, which follows the host's locale (Danish sorts "aa" after "z", Czech
 * "ch" after "h"): the card's present keys come out in the same order either way, so cards signed
 * before still verify, but a key added later could have made signer and verifier disagree.
 */
function signedBytes(body: CardBody): Uint8Array {
  const sorted = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return new TextEncoder().encode(`consulate-card/${cardVersion}\n${JSON.stringify(sorted)}`);
}

export interface CardFields {
  domain: string;
  federationUrl: string;
  fileProxyUrl?: string | undefined;
  relay?: string | undefined;
}

export async function createCard(identity: IdentityKey, fields: CardFields, options: { now?: Date; validDays?: number } = {}): Promise<Card> {
  const now = options.now ?? new Date();
  const body: CardBody = {
    v: cardVersion,
    domain: normaliseDomain(fields.domain),
    federationUrl: normaliseHttpsUrl(fields.federationUrl, 'federationUrl'),
    ...(fields.fileProxyUrl ? { fileProxyUrl: normaliseHttpsUrl(fields.fileProxyUrl, 'fileProxyUrl') } : {}),
    ...(fields.relay ? { relay: fields.relay } : {}),
    publicKey: identity.id,
    issued: now.toISOString(),
    expires: new Date(now.getTime() + (options.validDays ?? 30) * 86_400_000).toISOString(),
  };
  return { ...body, sig: await sign(identity, signedBytes(body)) };
}

/** One line, URL- and QR-safe: the prefix and base64url of the card's JSON. */
export function cardToText(card: Card): string {
  return textPrefix + Buffer.from(JSON.stringify(card)).toString('base64url');
}

/** Accepts the JSON file content or the text line. Structure only; verifyCard checks trust. */
export function parseCard(input: string): Card {
  const trimmed = input.trim();
  let json: unknown;
  try {
    json = trimmed.startsWith(textPrefix) ? JSON.parse(Buffer.from(trimmed.slice(textPrefix.length), 'base64url').toString('utf8')) : JSON.parse(trimmed);
  } catch {
    throw new ConsulateError('card_malformed', `not a federation card: expected the JSON file or a line starting with ${textPrefix}`);
  }
  const result = signedCard.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue?.path[0] === 'v')
      throw new ConsulateError(
        'card_version',
        `card version ${JSON.stringify((json as { v?: unknown }).v)} is not supported (this Consulate reads version ${cardVersion})`,
      );
    throw new ConsulateError('card_malformed', `card field ${issue?.path.join('.') || '?'}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

export interface VerifiedCard {
  card: Card;
  fingerprint: string;
}

/** Checks signature (by the key the card carries), expiry and field syntax. */
export async function verifyCard(card: Card, now = new Date()): Promise<VerifiedCard> {
  const { sig, ...body } = card;
  if (!(await verify(body.publicKey, signedBytes(body), sig)))
    throw new ConsulateError('card_bad_signature', 'the card signature does not verify: it was altered or not made by the key it names');
  if (Date.parse(body.expires) < now.getTime()) throw new ConsulateError('card_expired', `the card expired on ${body.expires}; ask the peer for a fresh one`);
  if (Date.parse(body.issued) > now.getTime() + 10 * 60_000)
    throw new ConsulateError('card_not_yet_valid', `the card is issued in the future (${body.issued}); check both clocks`);
  normaliseDomain(body.domain);
  normaliseHttpsUrl(body.federationUrl, 'federationUrl');
  if (body.fileProxyUrl) normaliseHttpsUrl(body.fileProxyUrl, 'fileProxyUrl');
  return { card, fingerprint: fingerprintOf(body.publicKey) };
}
