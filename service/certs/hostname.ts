import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { CertError } from './errors.js';

export type HostnameKind = 'dns' | 'ip';

export interface Hostname {
  kind: HostnameKind;
  /** Lower-case A-label DNS name without a trailing dot, or a canonical IP address. */
  value: string;
}

const dnsLabel = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Accepts what an operator types: `Fed.Example.org.`, `[2001:db8::1]`, an IDN in Unicode.
 * Wildcards are allowed only where a certificate request may carry them.
 */
export function parseHostname(input: string, options: { allowWildcard?: boolean } = {}): Hostname {
  const trimmed = input.trim();
  const bare = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  if (isIP(bare) !== 0) return { kind: 'ip', value: canonicalIp(bare) };
  let name = trimmed.toLowerCase().replace(/\.$/, '');
  const wildcard = name.startsWith('*.');
  if (wildcard && !options.allowWildcard) throw new CertError('hostname_invalid', `"${input}" is a wildcard; configure the concrete hostname`);
  const rest = wildcard ? name.slice(2) : name;
  // An IDN typed in Unicode is compared in its A-label (punycode) form, as certificates carry it.
  const ascii = /^[ -~]*$/.test(rest) ? rest : domainToASCII(rest);
  name = wildcard ? `*.${ascii}` : ascii;
  const labels = ascii.split('.');
  if (ascii === '' || ascii.length > 253 || !labels.every((label) => dnsLabel.test(label))) {
    throw new CertError('hostname_invalid', `"${input}" is not a valid hostname or IP address`);
  }
  if (wildcard && labels.length < 2) throw new CertError('hostname_invalid', `"${input}" is a wildcard for a whole top-level domain`);
  return { kind: 'dns', value: name };
}

/** 4 or 16 bytes; IPv4-mapped IPv6 stays 16 bytes because certificates encode it that way. */
export function ipToBytes(ip: string): Uint8Array | undefined {
  const version = isIP(ip);
  if (version === 4) return new Uint8Array(ip.split('.').map(Number));
  if (version !== 6) return undefined;
  let text = ip.toLowerCase().replace(/%.*$/, '');
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = tail.split('.').map(Number);
    const hex = (a: number, b: number): string => ((a << 8) | b).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(v4[0] ?? 0, v4[1] ?? 0)}:${hex(v4[2] ?? 0, v4[3] ?? 0)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

export function canonicalIp(ip: string): string {
  if (isIP(ip) === 4) return ip.split('.').map(Number).join('.');
  try {
    // The WHATWG URL parser produces the RFC 5952 form (longest zero run compressed).
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/**
 * RFC 6125 section 6.4.3 as browsers apply it: the wildcard must be the whole left-most
 * label and stands for exactly one non-empty label; `*.com`-style patterns never match.
 */
export function dnsNameMatches(pattern: string, hostname: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h && !p.includes('*');
  const suffix = p.slice(2);
  if (suffix.includes('*') || suffix.split('.').length < 2) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === suffix;
}

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

/** Whether the certificate's SANs cover `hostname`; the subject CN is deliberately ignored. */
export function sansCover(sans: SubjectAltNames, hostname: Hostname): boolean {
  if (hostname.kind === 'ip') {
    const want = ipToBytes(hostname.value);
    return sans.ip.some((ip) => {
      const have = ipToBytes(ip);
      return want !== undefined && have !== undefined && Buffer.from(have).equals(Buffer.from(want));
    });
  }
  return sans.dns.some((name) => dnsNameMatches(name, hostname.value));
}
