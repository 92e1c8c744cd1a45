import { stringify } from 'yaml';
import { z } from 'zod';
import { version } from '../version.js';
import { homeApiRegistry } from './contract.js';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ content: { 'application/json': { schema: ref(id) } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [String(code), { description: errorText[code] ?? 'error', ...json('Error') }]));
const errorText: Record<number, string> = {
  400: 'bad_request: the body is not JSON or does not match the schema',
  401: 'unauthorized: missing, wrong or revoked API key',
  403: 'unknown_sender, not_whitelisted or capability_denied',
  404: 'not_found',
  409: 'duplicate_id: the id is used by another sender',
  413: 'too_large: an envelope body exceeds the peer limit, or the request body 64 MiB',
  415: 'bad_request: a compressed request body (send it uncompressed)',
  502: 'peer_unreachable',
  503: 'queue_full: the peer queue is at its limit',
};

/** The home API as OpenAPI 3.0, built from the same zod schemas the handlers validate with. */
export function homeApiDocument(): Record<string, unknown> {
  const components = z.toJSONSchema(homeApiRegistry, { target: 'openapi-3.0', uri: (id) => `#/components/schemas/${id}` }) as {
    schemas: Record<string, Record<string, unknown>>;
  };
  for (const schema of Object.values(components.schemas)) delete schema['$id'];
  const userParam = { name: 'user', in: 'path', required: true, schema: { type: 'string' }, description: 'local part or user@this-domain' };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Consulate home API',
      version,
      description:
        'What the home messaging server uses to reach other organisations through its Consulate. Authenticate with `Authorization: Bearer csk_…` (create keys with `consulate apikey create`). Bodies and key bundles are opaque bytes in base64: Consulate never reads them. Errors are `{"error": {"code", "message"}}` with the stable codes of docs/errors.md.',
    },
    servers: [{ url: 'http://127.0.0.1:8441' }],
    security: [{ apiKey: [] }],
    paths: {
      '/v1/health': { get: { summary: 'Liveness (no key needed)', security: [], responses: { '200': { description: 'alive' } } } },
      '/v1/directory': {
        get: { summary: 'List the local users peers may look up', responses: { '200': { description: 'users', ...json('DirectoryList') }, ...errors(401) } },
      },
      '/v1/directory/{user}': {
        put: {
          summary: 'Add or update a local user',
          parameters: [userParam],
          requestBody: { required: true, ...json('DirectoryPut') },
          responses: { '200': { description: 'stored', ...json('DirectoryEntry') }, ...errors(400, 401) },
        },
        delete: {
          summary: 'Remove a local user from the directory',
          parameters: [userParam],
          responses: { '204': { description: 'removed' }, ...errors(401, 404) },
        },
      },
      '/v1/lookup': {
        post: {
          summary: 'Look users up, local or remote; one result per user, so one dead peer never fails the call',
          requestBody: { required: true, ...json('LookupRequest') },
          responses: { '200': { description: 'a result per user', ...json('LookupResponse') }, ...errors(400, 401) },
        },
      },
      '/v1/envelopes': {
        post: {
          summary: 'Submit envelopes to remote users',
          description:
            'All envelopes are validated first; any problem refuses the whole request and nothing is stored. 202 means every envelope is durably queued. Resubmitting an id is a no-op (listed in duplicates).',
          requestBody: { required: true, ...json('SubmitRequest') },
          responses: { '202': { description: 'durably queued', ...json('SubmitResponse') }, ...errors(400, 401, 403, 409, 413, 415, 503) },
        },
      },
      '/v1/envelopes/{id}/recall': {
        post: {
          summary: 'Recall an envelope: removed where not yet delivered; a recall envelope goes to every domain it reached',
          description:
            'removedFrom: the domains whose queue still held the envelope. If one of them was already receiving it (the batch was on its way), and its ack then shows that it stored the envelope, or no answer to that batch ever comes, a recall envelope follows it there automatically. recallSentTo: the domains a recall envelope was queued for now: those the envelope reached, and those whose queue still held it after a batch that carried it got no answer (the peer may have stored it). After a restart of this appliance, the envelopes at the head of each queue (what may have been on its way when it stopped) count as possibly delivered until the peer acknowledges them.',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, ...json('RecallRequest') },
          responses: { '200': { description: 'what was done', ...json('RecallResponse') }, ...errors(401, 403, 404) },
        },
      },
      '/v1/inbound': {
        get: {
          summary: 'Inbound envelopes and events after a cursor (long-poll with wait)',
          description:
            'Items stay until acknowledged; after a reconnect, start again from 0 to get everything unacknowledged. Every envelope has external: true and its origin domain.',
          parameters: [
            { name: 'after', in: 'query', schema: { type: 'integer', default: 0 } },
            { name: 'wait', in: 'query', schema: { type: 'integer', default: 0, maximum: 60 }, description: 'seconds to wait when nothing is there' },
            { name: 'limit', in: 'query', schema: { type: 'integer', default: 500, maximum: 5000 } },
          ],
          responses: { '200': { description: 'items', ...json('InboundResponse') }, ...errors(400, 401) },
        },
      },
      '/v1/inbound/ack': {
        post: {
          summary: 'Acknowledge inbound items by id; they leave the queue',
          requestBody: { required: true, ...json('AckRequest') },
          responses: { '200': { description: 'acknowledged', ...json('AckResponse') }, ...errors(400, 401) },
        },
      },
      '/v1/inbound/stream': {
        get: {
          summary: 'WebSocket stream: inbound items, their acks, and submissions',
          description: [
            'Upgrade to WebSocket (key in the Authorization header, or ?key= for clients that cannot set headers; ?after= cursor). Messages are JSON text, each at most 4 MiB (a larger one closes the stream with 1009).',
            'Inbound: the server sends `{"items": [InboundItem…]}`; the client sends `{"ack": ["id", …]}`. Unacknowledged items are sent again after a reconnect.',
            'Submitting: the client may send `{"submit": SubmitRequest, "tag": …}` (StreamSubmit) instead of POST /v1/envelopes, without waiting for the answer to the one before: the server handles a stream\'s submissions one after another in the order they arrived, and answers each after its envelopes are committed with `{"submitted": SubmitResponse, "tag": …}` (StreamSubmitted, what a 202 would carry) or `{"error": {"code", "message"}, "tag": …}` with the codes of POST /v1/envelopes (nothing of a refused submission is stored). The tag is the client\'s own string or number, echoed. Answers come in submission order. A submission whose answer was lost with the connection may be sent again after reconnecting: ids already queued come back in duplicates. With 16 submissions waiting the server stops reading from the socket until one is done.',
            'A stream whose API key is revoked is closed (4401) at its next message. A malformed message is answered with `{"error": …}` and the stream stays open.',
          ].join('\n\n'),
          responses: { '101': { description: 'switching protocols' }, '401': { description: 'unauthorized' } },
        },
      },
    },
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'csk_<id>_<secret>' } }, schemas: components.schemas },
  };
}

export function homeApiYaml(): string {
  return `# Generated by \`npm run docs:openapi\` from service/home/contract.ts; do not edit by hand.\n${stringify(homeApiDocument(), { lineWidth: 0 })}`;
}
