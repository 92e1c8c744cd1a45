import type { ErrorBody, HealthResponse, SessionResponse, StatusResponse } from '../../service/admin/contract.js';

/** An admin API failure with the service's stable code, shown to the operator as-is. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let csrf = '';

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
    const error = (data as ErrorBody | undefined)?.error;
    throw new ApiError(error?.code ?? 'http_' + response.status, error?.message ?? response.statusText, response.status);
  }
  return data as T;
}

export const api = {
  health: () => request<HealthResponse>('GET', '/healthz'),
  status: () => request<StatusResponse>('GET', '/api/status'),
  async login(token: string): Promise<void> {
    csrf = (await request<SessionResponse>('POST', '/api/session', { token })).csrf;
  },
  async resume(): Promise<boolean> {
    try {
      csrf = (await request<SessionResponse>('GET', '/api/session')).csrf;
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return false;
      throw error;
    }
  },
};
