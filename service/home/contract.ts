import { z } from 'zod';
import { ADDRESS_PATTERN, ENVELOPE_TYPES, MAX_RECIPIENTS, ULID_PATTERN } from '../envelope-rules.js';

/**
 * The home API contract. Handlers validate with these schemas and docs/home-api.yaml is
 * generated from them (`npm run docs:openapi`), so the document cannot drift.
 */
/** Every schema of the home API with its OpenAPI component name. */
export const homeApiRegistry = z.registry<{ id: string }>();

/** Shared with the submit fast path (submit-check.ts), so the two cannot disagree. */
export const BASE64_PATTERN = /^[A-Za-z0-9+/_-]*={0,2}$/;
export const MAX_ENVELOPES = 5000;

const address = z.string().regex(ADDRESS_PATTERN, 'must be user@domain').describe('user@domain');
const base64 = z.string().regex(BASE64_PATTERN, 'must be base64').describe('base64 (standard or URL-safe)');
const ulid = z.string().regex(ULID_PATTERN, 'must be a ULID').describe('ULID');

export const errorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).register(homeApiRegistry, { id: 'Error' });

export const directoryPut = z
  .strictObject({ displayName: z.string().max(256).default(''), keyBundle: base64.max(65536) })
  .register(homeApiRegistry, { id: 'DirectoryPut' });
export const directoryEntry = z
  .object({ user: address, displayName: z.string(), keyBundle: base64, updated: z.number().int() })
  .register(homeApiRegistry, { id: 'DirectoryEntry' });
export const directoryList = z.object({ users: z.array(directoryEntry) }).register(homeApiRegistry, { id: 'DirectoryList' });

export const lookupRequest = z.strictObject({ users: z.array(address).min(1).max(1000) }).register(homeApiRegistry, { id: 'LookupRequest' });
export const lookupResult = z
  .object({
    user: address,
    status: z.enum(['found', 'not_found', 'not_whitelisted', 'capability_denied', 'peer_unreachable']),
    displayName: z.string().optional(),
    keyBundle: base64.optional(),
    updated: z.number().int().optional(),
    message: z.string().optional(),
    cached: z.boolean().optional(),
  })
  .register(homeApiRegistry, { id: 'LookupResult' });
export const lookupResponse = z.object({ results: z.array(lookupResult) }).register(homeApiRegistry, { id: 'LookupResponse' });

export const envelopeIn = z
  .strictObject({
    id: ulid,
    from: address,
    to: z.array(address).min(1).max(MAX_RECIPIENTS),
    type: z.enum(ENVELOPE_TYPES),
    ts: z.number().int().nonnegative(),
    body: base64,
  })
  .register(homeApiRegistry, { id: 'Envelope' });
export const submitRequest = z.strictObject({ envelopes: z.array(envelopeIn).min(1).max(MAX_ENVELOPES) }).register(homeApiRegistry, { id: 'SubmitRequest' });
export const submitResponse = z.object({ accepted: z.array(z.string()), duplicates: z.array(z.string()) }).register(homeApiRegistry, { id: 'SubmitResponse' });

const streamTag = z.union([z.string().max(200), z.number()]).describe('any value of the client, echoed in the answer to this message');
export const streamSubmit = z.strictObject({ submit: submitRequest, tag: streamTag.optional() }).register(homeApiRegistry, { id: 'StreamSubmit' });
export const streamSubmitted = z.object({ submitted: submitResponse, tag: streamTag.optional() }).register(homeApiRegistry, { id: 'StreamSubmitted' });

export const recallRequest = z.strictObject({ from: address }).register(homeApiRegistry, { id: 'RecallRequest' });
export const recallResponse = z
  .object({ removedFrom: z.array(z.string()), recallSentTo: z.array(z.string()) })
  .register(homeApiRegistry, { id: 'RecallResponse' });

export const inboundItem = z
  .object({
    seq: z.number().int().describe('cursor position of this item'),
    id: z.string(),
    from: z.string(),
    to: z.array(z.string()),
    type: z.enum(['message', 'recall', 'receipt', 'call', 'undeliverable']),
    ts: z.number().int(),
    body: base64,
    ref: z.string().optional().describe('for recall: the id it withdraws; for undeliverable: the envelope id'),
    external: z.boolean().describe('true for every envelope that came from another domain'),
    origin: z.string().describe('domain the item came from (this domain for undeliverable events)'),
  })
  .register(homeApiRegistry, { id: 'InboundItem' });
export const inboundQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  wait: z.coerce.number().int().min(0).max(60).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});
export const inboundResponse = z.object({ items: z.array(inboundItem), cursor: z.number().int() }).register(homeApiRegistry, { id: 'InboundResponse' });
export const ackRequest = z.strictObject({ ids: z.array(z.string().max(200)).min(1).max(10000) }).register(homeApiRegistry, { id: 'AckRequest' });
export const ackResponse = z.object({ acked: z.number().int() }).register(homeApiRegistry, { id: 'AckResponse' });

export type EnvelopeIn = z.infer<typeof envelopeIn>;
export type InboundItem = z.infer<typeof inboundItem>;
export type LookupResult = z.infer<typeof lookupResult>;
