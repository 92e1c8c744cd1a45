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

export const sessionResponse = z.object({
  csrf: z.string(),
  /** token: opened with the one-time link (may reset a forgotten password); password: with the admin password. */
  via: z.enum(['token', 'password']).optional(),
});
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

// --- GUI: login, password, first-run setup, settings, live status, audit, logs --------

/** Shortest admin password accepted; long enough that the login rate limit makes guessing hopeless. */
export const minPasswordLength = 10;

export const passwordLoginRequest = z.strictObject({ password: z.string().min(1).max(200) });
export type PasswordLoginRequest = z.infer<typeof passwordLoginRequest>;

/** POST /api/session takes either the one-time token or the admin password. */
export const anyLoginRequest = z.union([loginRequest, passwordLoginRequest]);
export type AnyLoginRequest = z.infer<typeof anyLoginRequest>;

/** What the login page may know before a session: enough to tell the operator which box this is. */
export interface LoginInfoResponse {
  domain: string;
  fingerprint: string;
  passwordSet: boolean;
  /** True when the admin listener is bound beyond loopback, where a password is mandatory. */
  passwordRequired: boolean;
}

export const setPasswordRequest = z.strictObject({
  password: z.string().min(minPasswordLength, `must be at least ${minPasswordLength} characters`).max(200),
  /** Required when a password is already set. */
  current: z.string().max(200).optional(),
});
export type SetPasswordRequest = z.infer<typeof setPasswordRequest>;

export interface InstalledCertificateView {
  subject: string;
  issuer: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  fingerprintSha256: string;
  selfSigned: boolean;
  /** Expiry policy state: warning after two thirds of the lifetime, critical near the end. */
  state: 'ok' | 'warning' | 'critical' | 'expired';
}

export interface SetupResponse {
  complete: boolean;
  completedAt: string | null;
  steps: {
    identity: { done: boolean; fingerprint: string };
    /** Done when a domain other than the built-in placeholder is saved (file) or running. */
    domain: { done: boolean; running: string; saved: string | null };
    certificate: { done: boolean; installed: InstalledCertificateView | null; path: string; problem: string | null };
    password: { done: boolean; required: boolean };
  };
  /** The saved configuration differs from the running one: a restart applies it. */
  restartRequired: boolean;
}

const listenHostField = z.string().min(1).max(253);
const portField = z.number().int().min(0).max(65535);

/** The settings the GUI edits; everything is optional and merged into the saved config file. */
export const settingsUpdateRequest = z.strictObject({
  domain: z.string().min(1).max(253).optional(),
  admin: z.strictObject({ host: listenHostField, port: portField }).partial().optional(),
  home: z.strictObject({ host: listenHostField, port: portField }).partial().optional(),
  federation: z
    .strictObject({
      host: listenHostField,
      port: portField,
      hostname: z.string().max(253).nullable(),
      publicUrl: z.string().max(2000).nullable(),
    })
    .partial()
    .optional(),
  fileProxy: z
    .strictObject({ hostname: z.string().max(253).nullable() })
    .partial()
    .optional(),
  relay: z.strictObject({ host: listenHostField, port: portField, minPort: portField, maxPort: portField }).partial().optional(),
});
export type SettingsUpdateRequest = z.infer<typeof settingsUpdateRequest>;

export interface SettingsView {
  domain: string;
  admin: { host: string; port: number; allowedHosts: string[] };
  home: { host: string; port: number };
  federation: { host: string; port: number; hostname: string | null; publicUrl: string | null; caBundleFile: string | null };
  fileProxy: { hostname: string | null };
  relay: { host: string; port: number; minPort: number; maxPort: number };
  log: { level: string; format: string };
}

export interface SettingsResponse {
  /** What the service runs with now. */
  running: SettingsView;
  /** What it will run with after a restart (file < environment < flags may still override). */
  saved: SettingsView;
  configFile: string;
  restartRequired: boolean;
  /** Dotted paths saved since the service started: a restart applies them. */
  pending: string[];
  /** Dotted paths where the running value is not the file's (a flag or environment variable set it). */
  overridden: string[];
}

export interface ListenerView {
  name: 'admin' | 'federation' | 'fileProxy' | 'relay' | 'home';
  /** up: listening; down: configured but not listening (detail says why); unavailable: not in this build. */
  state: 'up' | 'down' | 'unavailable';
  address: string;
  detail: string;
}

export interface PeerLive {
  domain: string;
  state: 'active' | 'suspended';
  outbound: string;
  inbound: string;
  rttMs: number | null;
  lastHandshake: string | null;
  lastError: { code: string; message: string; at: string } | null;
  bytesIn: number;
  bytesOut: number;
  keyAlarm: string | null;
}

/** One live snapshot: pushed as the `status` event every 2 s and served by GET /api/live. */
export interface LiveSnapshot {
  at: string;
  status: StatusResponse;
  components: ReadinessResponse['components'];
  listeners: ListenerView[];
  peers: PeerLive[];
  passwordSet: boolean;
  passwordRequired: boolean;
  restartRequired: boolean;
  certificate: InstalledCertificateView | null;
  /** Appliances refused because they are not on the whitelist (claimed domains, unverified), newest first. */
  unknownDialers: UnknownDialerView[];
  /** Fingerprint of this appliance's active identity key (changes with a rotation or a restore). */
  fingerprint: string | null;
}

export interface UnknownDialerView {
  domain: string;
  firstSeen: string;
  lastSeen: string;
  attempts: number;
  addresses: string[];
}

export interface AuditEntryView {
  id: number;
  ts: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export interface AuditResponse {
  entries: AuditEntryView[];
  /** The hash chain check over the whole log: brokenAt is the first entry that does not follow. */
  chain: { intact: boolean; brokenAt: number | null; checked: number };
}

export interface LogEntryView {
  id: number;
  time: string;
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  /** Other structured fields of the line (component, peer, code, …), secrets removed. */
  fields: Record<string, unknown>;
}

export interface LogsResponse {
  entries: LogEntryView[];
  /** False when the log tail could not be attached (the GUI then says so). */
  available: boolean;
  /** Lines below this level are not recorded by the service (log.level). */
  level: string;
}

/**
 * Server-sent events on GET /api/events (event name → JSON data). `peer.up`, `peer.down`
 * and `key.changed` are also what the desktop shell turns into notifications.
 */
export interface AdminEventMap {
  status: LiveSnapshot;
  peer: PeerLive;
  'peer.up': { domain: string };
  'peer.down': { domain: string; lastError?: string };
  'key.changed': { domain: string; fingerprint: string };
  'certificate.expiring': { name: string; expiresAt: string; daysLeft: number };
  log: LogEntryView;
}

// Certificates and the organisation CA (docs/certificates.md, "Admin API"). Dates are ISO strings.

export const certSlotName = z.enum(['federation', 'fileProxy']);
export type CertSlotName = z.infer<typeof certSlotName>;
export const certKeyType = z.enum(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']);
const certHostnames = z.array(z.string().min(1).max(253)).min(1).max(50);
const subjectFields = {
  commonName: z.string().min(1).max(64).optional(),
  organization: z.string().min(1).max(64).optional(),
  country: z.string().length(2).optional(),
};

export interface CertificateView {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
  sans: string[];
  isCa: boolean;
  selfSigned: boolean;
  key: string;
  signatureAlgorithm: string;
}

export interface StoredCertificateView extends CertificateView {
  /** Generation id in the store ("legacy" for a pre-store tls/federation.crt still served). */
  id: string;
  installedAt: string;
}

export interface CertCheckView {
  id: string;
  ok: boolean;
  severity: 'error' | 'warning' | 'info';
  message: string;
  code?: string | undefined;
}

export interface CertReportView {
  ok: boolean;
  trusted: boolean;
  daysUntilExpiry: number;
  checks: CertCheckView[];
  chain: Array<{
    role: 'leaf' | 'intermediate' | 'root';
    subject: string;
    issuer: string;
    fingerprintSha256: string;
    notBefore: string;
    notAfter: string;
    source: 'bundle' | 'trust-anchors';
  }>;
}

export type CertStateName = 'ok' | 'warning' | 'critical' | 'expired' | 'missing';

export interface CertSlotView {
  slot: CertSlotName;
  hostnames: string[];
  source: 'store' | 'legacy' | 'none';
  served: boolean;
  state: CertStateName;
  expiry: { secondsToExpiry: number; warningAt: string; criticalAt: string } | null;
  current: StoredCertificateView | null;
  previous: StoredCertificateView | null;
  report: CertReportView | null;
  problem: string | null;
}

export interface CertsResponse {
  slots: CertSlotView[];
  listener: { running: boolean };
}

/** A refused import, install or rollback: HTTP 422 with the stable code and the whole report when there is one. */
export interface CertErrorBody {
  error: { code: string; message: string; checks?: CertCheckView[] };
}

export const certCsrRequest = z.strictObject({ hostnames: certHostnames.optional(), keyType: certKeyType.optional(), ...subjectFields });
export type CertCsrRequest = z.infer<typeof certCsrRequest>;

export interface CertCsrResponse {
  csrPem: string;
  /** Suggested file name, e.g. fed.example.org.csr. The key stays on the appliance. */
  fileName: string;
  key: string;
  hostnames: string[];
}

export const certImportRequest = z
  .strictObject({
    slot: certSlotName.default('federation'),
    /** PEM text: the certificate and its chain, optionally with the key. */
    pem: z.string().min(1).max(500_000).optional(),
    /** A PKCS#12 (.p12/.pfx) file in base64. */
    p12Base64: z.string().min(1).max(700_000).optional(),
    /** A separate key; not needed when the CSR was made on this appliance. */
    keyPem: z.string().min(1).max(100_000).optional(),
    password: z.string().max(1024).optional(),
  })
  .refine((body) => (body.pem === undefined) !== (body.p12Base64 === undefined), { message: 'give either pem or p12Base64' });
export type CertImportRequest = z.input<typeof certImportRequest>;

export interface CertInstallResponse {
  slot: CertSlotName;
  installed: StoredCertificateView;
  report: CertReportView;
}

export const certRollbackRequest = z.strictObject({ slot: certSlotName.default('federation'), force: z.boolean().optional() });
export type CertRollbackRequest = z.input<typeof certRollbackRequest>;

export interface CaResponse {
  exists: boolean;
  certificate: CertificateView | null;
  /** What peers add as their trust anchor for this appliance (`consulate peer set-ca`). */
  certPem: string | null;
  sealed: boolean;
}

export const caInitRequest = z.strictObject({
  commonName: z.string().min(1).max(64),
  organization: subjectFields.organization,
  country: subjectFields.country,
  keyType: certKeyType.optional(),
  validityDays: z.number().int().min(1).max(36_500).optional(),
});
export type CaInitRequest = z.infer<typeof caInitRequest>;

export const caIssueRequest = z.strictObject({
  hostnames: certHostnames.optional(),
  /** Sign this request instead of generating a key; required when not installing here. */
  csrPem: z.string().min(1).max(100_000).optional(),
  keyType: certKeyType.optional(),
  validityDays: z.number().int().min(1).max(36_500).optional(),
  /** Install the issued certificate in this slot of this appliance (default federation). */
  install: z.boolean().default(true),
  slot: certSlotName.default('federation'),
});
export type CaIssueRequest = z.input<typeof caIssueRequest>;

export interface CaIssueResponse {
  certificate: CertificateView;
  /** Certificate followed by the CA certificate. */
  chainPem: string;
  installed: CertInstallResponse | null;
}

// --- queues --------------------------------------------------------------------------

export interface QueueView {
  peer: string;
  depth: number;
  /** Milliseconds the oldest waiting envelope has waited, or null when empty. */
  oldestAgeMs: number | null;
  retry: { attempts: number; nextAttemptAt: string; lastError: string | null } | null;
  linkUp: boolean;
}

export interface QueuesResponse {
  peers: QueueView[];
  /** Inbound items waiting for the home to acknowledge them. */
  inboxDepth: number;
}

export const queuePurgeRequest = z.strictObject({ confirm: z.string() });

// --- backup and restore ------------------------------------------------------------------

const backupPassphrase = z.string().min(12, 'must be at least 12 characters').max(1024);
/** The backup file's text (it is three lines of ASCII), at most 32 MiB. */
const backupText = z
  .string()
  .min(1)
  .max(32 * 1024 * 1024);

export const backupCreateRequest = z.strictObject({ passphrase: backupPassphrase });
export type BackupCreateRequest = z.infer<typeof backupCreateRequest>;
export const backupInspectRequest = z.strictObject({ backup: backupText, passphrase: z.string().min(1).max(1024) });
export type BackupInspectRequest = z.infer<typeof backupInspectRequest>;
/** `confirm` is the backup's domain typed by the operator, as for other destructive actions. */
export const backupRestoreRequest = z.strictObject({ backup: backupText, passphrase: z.string().min(1).max(1024), confirm: z.string() });
export type BackupRestoreRequest = z.infer<typeof backupRestoreRequest>;

export interface BackupCreateResponse {
  fileName: string;
  /** The whole backup file. */
  backup: string;
  contents: BackupContentsView;
}

export interface BackupContentsView {
  createdAt: string;
  consulateVersion: string;
  domain: string;
  identities: Array<{ fingerprint: string; status: string; createdAt: string }>;
  peers: Array<{ domain: string; state: string; pins: number }>;
  apiKeys: Array<{ name: string; revoked: boolean }>;
  directoryUsers: number;
  certificates: Array<{ slot: 'federation' | 'fileProxy'; subject: string; sans: string[]; notAfter: string }>;
  /** Dotted keys set in the backup's config.json. */
  settings: string[];
  adminPassword: boolean;
}

export interface BackupRestoreResponse {
  contents: BackupContentsView;
  /** Where the configuration as it was before was saved, encrypted with the same passphrase. */
  savedAs: string;
  certificatesSkipped: Array<{ slot: 'federation' | 'fileProxy'; code: string; message: string }>;
  /** config.json changed: ports, addresses and the domain take effect after a restart. */
  restartRequired: boolean;
}
