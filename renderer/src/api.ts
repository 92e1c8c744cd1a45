import type {
  AnyLoginRequest,
  BackupContentsView,
  BackupCreateRequest,
  BackupCreateResponse,
  BackupInspectRequest,
  BackupRestoreRequest,
  BackupRestoreResponse,
  CaInitRequest,
  CaIssueRequest,
  CaIssueResponse,
  CaResponse,
  CertCheckView,
  CertCsrRequest,
  CertCsrResponse,
  CertImportRequest,
  CertInstallResponse,
  CertRollbackRequest,
  CertsResponse,
  AuditResponse,
  CardImportRequest,
  CardPreviewResponse,
  CardResponse,
  DoctorResponse,
  ErrorBody,
  HealthResponse,
  IdentityResponse,
  LiveSnapshot,
  LoginInfoResponse,
  LogsResponse,
  PeerUpdateRequest,
  QueuesResponse,
  PeerView,
  RotateResponse,
  SessionResponse,
  SetPasswordRequest,
  SettingsResponse,
  SettingsUpdateRequest,
  SetupResponse,
  StatusResponse,
} from '../../service/admin/contract.js';

/** An admin API failure with the service's stable code, shown to the operator as-is. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** The validation report of a refused certificate, when the service sent one. */
    readonly checks?: CertCheckView[],
  ) {
    super(message);
  }
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError('internal', error instanceof Error ? error.message : String(error), 0);
}

let csrf = '';
let via: SessionResponse['via'];

/** How this session was opened; a one-time-link session may reset a forgotten password. */
export function sessionVia(): SessionResponse['via'] {
  return via;
}
const unauthorizedListeners = new Set<() => void>();

/** Called when any request finds the session gone (logout elsewhere, restart, idle timeout). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-consulate-csrf'] = csrf;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError('service_unreachable', 'The Consulate service does not answer. Is it running?', 0);
  }
  if (response.status === 204) return undefined as T;
  const data = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const error = (data as (ErrorBody & { error: { checks?: CertCheckView[] } }) | undefined)?.error;
    const failure = new ApiError(error?.code ?? 'http_' + response.status, error?.message ?? response.statusText, response.status, error?.checks);
    if (failure.code === 'unauthorized' && path !== '/api/session') for (const listener of unauthorizedListeners) listener();
    throw failure;
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  health: () => request<HealthResponse>('GET', '/healthz'),
  status: () => request<StatusResponse>('GET', '/api/status'),
  loginInfo: () => request<LoginInfoResponse>('GET', '/api/login-info'),
  async login(credentials: AnyLoginRequest): Promise<void> {
    ({ csrf, via } = await request<SessionResponse>('POST', '/api/session', credentials));
  },
  async resume(): Promise<boolean> {
    try {
      ({ csrf, via } = await request<SessionResponse>('GET', '/api/session'));
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return false;
      throw error;
    }
  },
  async logout(): Promise<void> {
    await request<void>('DELETE', '/api/session');
    csrf = '';
  },
  setPassword: (body: SetPasswordRequest) => request<void>('POST', '/api/password', body),
  setup: () => request<SetupResponse>('GET', '/api/setup'),
  completeSetup: () => request<void>('POST', '/api/setup/complete', {}),
  settings: () => request<SettingsResponse>('GET', '/api/settings'),
  saveSettings: (patch: SettingsUpdateRequest) => request<SettingsResponse>('PUT', '/api/settings', patch),
  live: () => request<LiveSnapshot>('GET', '/api/live'),
  identity: () => request<IdentityResponse>('GET', '/api/identity'),
  rotateIdentity: () => request<RotateResponse>('POST', '/api/identity/rotate', {}),
  card: () => request<CardResponse>('GET', '/api/card'),
  peers: () => request<PeerView[]>('GET', '/api/peers'),
  previewCard: (card: string) => request<CardPreviewResponse>('POST', '/api/peers/preview', { card }),
  importCard: (body: CardImportRequest) => request<PeerView>('POST', '/api/peers/import', body),
  updatePeer: (domain: string, patch: PeerUpdateRequest) => request<PeerView>('PATCH', `/api/peers/${enc(domain)}`, patch),
  suspendPeer: (domain: string) => request<PeerView>('POST', `/api/peers/${enc(domain)}/suspend`, {}),
  resumePeer: (domain: string) => request<PeerView>('POST', `/api/peers/${enc(domain)}/resume`, {}),
  severPeer: (domain: string, confirm: string) => request<void>('DELETE', `/api/peers/${enc(domain)}`, { confirm }),
  checkPeer: (domain: string) => request<DoctorResponse>('POST', `/api/peers/${enc(domain)}/check`, {}),
  certs: () => request<CertsResponse>('GET', '/api/certs'),
  certCsr: (body: CertCsrRequest) => request<CertCsrResponse>('POST', '/api/certs/csr', body),
  certImport: (body: CertImportRequest) => request<CertInstallResponse>('POST', '/api/certs/import', body),
  certRollback: (body: CertRollbackRequest) => request<CertInstallResponse>('POST', '/api/certs/rollback', body),
  ca: () => request<CaResponse>('GET', '/api/ca'),
  caInit: (body: CaInitRequest) => request<CaResponse>('POST', '/api/ca/init', body),
  caIssue: (body: CaIssueRequest) => request<CaIssueResponse>('POST', '/api/ca/issue', body),
  queues: () => request<QueuesResponse>('GET', '/api/queues'),
  retryQueue: (peer: string) => request<void>('POST', `/api/queues/${enc(peer)}/retry`, {}),
  dismissUnknownDialer: (domain: string) => request<void>('POST', `/api/unknown-dialers/${enc(domain)}/dismiss`, {}),
  purgeQueue: (peer: string, confirm: string) => request<{ purged: number }>('DELETE', `/api/queues/${enc(peer)}`, { confirm }),
  audit: (limit = 500) => request<AuditResponse>('GET', `/api/audit?limit=${limit}`),
  logs: (since = 0) => request<LogsResponse>('GET', `/api/logs?since=${since}`),
  /** The whole configuration, encrypted with the passphrase; the answer carries the file's text. */
  createBackup: (body: BackupCreateRequest) => request<BackupCreateResponse>('POST', '/api/backup', body),
  /** Decrypts a backup and lists what it holds; changes nothing. */
  inspectBackup: (body: BackupInspectRequest) => request<BackupContentsView>('POST', '/api/backup/inspect', body),
  /** Replaces this appliance's configuration with the backup's; `confirm` is the backup's domain. */
  restoreBackup: (body: BackupRestoreRequest) => request<BackupRestoreResponse>('POST', '/api/backup/restore', body),
  /** Whether an optional endpoint exists in this build (404 means not yet). */
  async exists(path: string): Promise<boolean> {
    try {
      await request<unknown>('GET', path);
      return true;
    } catch (error) {
      return !(error instanceof ApiError && error.status === 404);
    }
  },
};
