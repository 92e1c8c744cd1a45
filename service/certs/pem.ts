import { CertError } from './errors.js';

export interface PemBlock {
  /** The label between BEGIN and END, e.g. `CERTIFICATE` or `PRIVATE KEY`. */
  label: string;
  /** RFC 1421 headers, as found in legacy encrypted keys (`Proc-Type`, `DEK-Info`). */
  headers: Record<string, string>;
  der: Uint8Array;
}

const beginLine = /-----BEGIN ([A-Z0-9][A-Z0-9 #._-]{0,62})-----/g;
const base64Body = /^[A-Za-z0-9+/]*={0,2}$/;

export function looksLikePem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Every PEM block in `text`, in order. Text between blocks is ignored because tools put
 * comments there (OpenSSL's "Bag Attributes", "subject=" lines). Anything inside a block
 * that is not clean base64 is an error: a truncated paste must not become a shorter key.
 */
export function parsePem(text: string): PemBlock[] {
  if (typeof text !== 'string') throw new CertError('pem_malformed', 'PEM input must be text');
  const blocks: PemBlock[] = [];
  beginLine.lastIndex = 0;
  let match: RegExpExecArray | null;
  let searchFrom = 0;
  while ((match = beginLine.exec(text)) !== null) {
    if (match.index < searchFrom) continue;
    const label = match[1] as string;
    const bodyStart = match.index + match[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, bodyStart);
    if (end < 0) {
      throw new CertError('pem_malformed', `the PEM block "${label}" starting on line ${lineOf(text, match.index)} has no END line`);
    }
    const nextBegin = text.indexOf('-----BEGIN ', bodyStart);
    if (nextBegin >= 0 && nextBegin < end) {
      throw new CertError('pem_malformed', `the PEM block "${label}" starting on line ${lineOf(text, match.index)} is not closed before the next block`);
    }
    blocks.push(decodeBody(label, text.slice(bodyStart, end), lineOf(text, match.index)));
    searchFrom = end + endMarker.length;
    beginLine.lastIndex = searchFrom;
  }
  if (blocks.length === 0) {
    if (text.includes('-----END ')) throw new CertError('pem_malformed', 'the text has a PEM END line but no matching BEGIN line');
    throw new CertError('pem_malformed', 'the text contains no PEM block (expected "-----BEGIN ...-----")');
  }
  return blocks;
}

function decodeBody(label: string, body: string, line: number): PemBlock {
  const lines = body.split(/\r?\n|\r/).map((l) => l.trim());
  const headers: Record<string, string> = {};
  let i = 0;
  while (i < lines.length && lines[i] === '') i++;
  if (i < lines.length && (lines[i] as string).includes(':')) {
    while (i < lines.length && lines[i] !== '') {
      const header = lines[i] as string;
      const colon = header.indexOf(':');
      if (colon <= 0) throw new CertError('pem_malformed', `the PEM block "${label}" on line ${line} has a malformed header`);
      headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
      i++;
    }
  }
  const base64 = lines.slice(i).join('').replace(/\s+/g, '');
  if (base64 === '') throw new CertError('pem_malformed', `the PEM block "${label}" on line ${line} is empty`);
  if (!base64Body.test(base64) || base64.length % 4 !== 0) {
    throw new CertError('pem_malformed', `the PEM block "${label}" on line ${line} is not valid base64 (truncated or edited?)`);
  }
  return { label, headers, der: new Uint8Array(Buffer.from(base64, 'base64')) };
}

export function encodePem(label: string, der: Uint8Array | ArrayBuffer): string {
  const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
