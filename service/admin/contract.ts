import { z } from 'zod';

/**
 * The admin API contract: the handlers validate with these schemas and the GUI
 * imports the types (type-only, so no service code reaches the browser bundle).
 */
export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof errorBody>;

export const healthResponse = z.object({
  status: z.literal('ok'),
  version: z.string(),
});
export type HealthResponse = z.infer<typeof healthResponse>;

export const readinessResponse = z.object({
  ready: z.boolean(),
  components: z.record(z.string(), z.object({ ready: z.boolean(), detail: z.string().optional() })),
});
export type ReadinessResponse = z.infer<typeof readinessResponse>;

export const loginRequest = z.strictObject({ token: z.string().min(1).max(200) });
export type LoginRequest = z.infer<typeof loginRequest>;

export const sessionResponse = z.object({ csrf: z.string() });
export type SessionResponse = z.infer<typeof sessionResponse>;

export const statusResponse = z.object({
  version: z.string(),
  domain: z.string(),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  node: z.string(),
  dataDir: z.string(),
  ready: z.boolean(),
});
export type StatusResponse = z.infer<typeof statusResponse>;

/** Header carrying the session's CSRF token on every state-changing request. */
export const csrfHeader = 'x-consulate-csrf';
export const sessionCookie = 'consulate_session';

// --- federation: identity, card, peers -------------------------------------------------

export const identityResponse = z.object({
  domain: z.string(),
  fingerprint: z.string(),
  publicKey: z.string(),
  createdAt: z.string(),
  history: z.array(z.object({ id: z.string(), fingerprint: z.string(), status: z.string(), createdAt: z.string(), retiredAt: z.string().nullable() })),
});
export type IdentityResponse = z.infer<typeof identityResponse>;

export const cardResponse = z.object({ card: z.record(z.string(), z.unknown()), text: z.string(), fingerprint: z.string() });
export type CardResponse = z.infer<typeof cardResponse>;

const capabilities = z.strictObject({ lookup: z.boolean(), messages: z.boolean(), files: z.boolean(), calls: z.boolean() });

export const cardPreviewRequest = z.strictObject({ card: z.string().min(1).max(20_000) });
export const cardPreviewResponse = z.object({
  domain: z.string(),
  federationUrl: z.string(),
  fingerprint: z.string(),
  expires: z.string(),
  /** What importing would do: add a new peer, refresh a known one, or replace its pinned key. */
  effect: z.enum(['add', 'refresh', 'replace_key']),
});
export type CardPreviewResponse = z.infer<typeof cardPreviewResponse>;

export const cardImportRequest = z.strictObject({
  card: z.string().min(1).max(20_000),
  /** The fingerprint the operator confirmed out of band; must match the card. */
  confirmFingerprint: z.string(),
  replaceKey: z.boolean().optional(),
  capabilities: capabilities.partial().optional(),
  note: z.string().max(2000).optional(),
});
export type CardImportRequest = z.infer<typeof cardImportRequest>;

export const peerUpdateRequest = z.strictObject({
  capabilities: capabilities.partial().optional(),
  note: z.string().max(2000).optional(),
  limits: z
    .strictObject({ ratePerSecond: z.number().int(), maxEnvelopeBytes: z.number().int(), maxFileBytes: z.number().int(), outboxMax: z.number().int() })
    .partial()
    .optional(),
});
export type PeerUpdateRequest = z.infer<typeof peerUpdateRequest>;

export const peerRemoveRequest = z.strictObject({ confirm: z.string() });

export interface PeerView {
  domain: string;
  federationUrl: string;
  fileProxyUrl: string | null;
  relay: string | null;
  state: 'active' | 'suspended';
  capabilities: z.infer<typeof capabilities>;
  limits: { ratePerSecond: number; maxEnvelopeBytes: number; maxFileBytes: number; outboxMax: number };
  keys: Array<{ publicKey: string; fingerprint: string; notAfter: string | null; source: string; addedAt: string }>;
  note: string;
  addedBy: string;
  addedAt: string;
  updatedAt: string;
  status: {
    outbound: string;
    inbound: string;
    rttMs: number | null;
    lastHandshake: string | null;
    lastError: { code: string; message: string; at: string } | null;
    bytesIn: number;
    bytesOut: number;
    keyAlarm: string | null;
  };
}

export interface DoctorResponse {
  domain: string;
  ok: boolean;
  steps: Array<{ step: string; ok: boolean; code?: string; message: string; ms: number }>;
}

export interface RotateResponse {
  fingerprint: string;
  previousFingerprint: string;
  told: string[];
}
