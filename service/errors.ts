/**
 * Errors that cross a boundary (CLI exit, HTTP response, link frame) carry a stable
 * code. The catalogue with explanations lives in docs/errors.md; keep both in sync.
 */
export const errorCodes = {
  config_invalid: 'The configuration has an unknown key, a wrong type or a value out of range.',
  config_unreadable: 'The configuration file could not be read or is not valid JSON.',
  port_in_use: 'Another process already listens on a configured address and port.',
  address_unavailable: 'A configured listen address does not exist on this machine.',
  data_dir_not_writable: 'The data directory cannot be created or written to.',
  db_too_new: 'The database was written by a newer Consulate; this version will not touch it.',
  db_migration_failed: 'A database migration failed; the database was rolled back and a backup kept.',
  unauthorized: 'The request has no valid admin session.',
  bad_host: 'The Host header does not name this admin listener (DNS rebinding protection).',
  csrf: 'A state-changing request came from another site or without the CSRF header.',
  token_invalid: 'The one-time login token is wrong, expired or already used.',
  not_found: 'No such resource.',
  bad_request: 'The request body does not match the schema.',
  internal: 'An unexpected error; the log has the details.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class ConsulateError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConsulateError';
    this.code = code;
    this.status = options.status ?? 400;
    this.details = options.details;
  }
}

export function isConsulateError(error: unknown): error is ConsulateError {
  return error instanceof ConsulateError;
}
