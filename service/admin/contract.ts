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
