import { domainToASCII } from 'node:url';
import { ConsulateError } from '../errors.js';

/** IDNA-normalised, lower-case domain; throws invalid_domain with the reason. */
export function normaliseDomain(input: string): string {
  const trimmed = input.trim().replace(/\.$/, '');
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (!ascii || ascii.length > 253 || !/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/.test(ascii)) {
    throw new ConsulateError('invalid_domain', `"${input}" is not a valid domain name`);
  }
  return ascii;
}

/** An https URL without credentials, query or fragment; plain http is refused. */
export function normaliseHttpsUrl(input: string, field: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ConsulateError('invalid_url', `${field}: "${input}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new ConsulateError('invalid_url', `${field}: must use https (got ${url.protocol.replace(':', '')})`);
  if (url.username || url.password || url.search || url.hash)
    throw new ConsulateError('invalid_url', `${field}: must not carry credentials, a query or a fragment`);
  return url.toString().replace(/\/$/, '');
}
