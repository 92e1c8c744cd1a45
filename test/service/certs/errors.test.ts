import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CertError, certErrorCodes } from '../../../service/certs/index.js';
import { ConsulateError } from '../../../service/errors.js';

describe('certificate error codes', () => {
  it('are all explained in docs/certificates.md', () => {
    const docs = readFileSync(new URL('../../../docs/certificates.md', import.meta.url), 'utf8');
    const documented = new Set([...docs.matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((match) => match[1]));
    expect(Object.keys(certErrorCodes).filter((code) => !documented.has(code))).toEqual([]);
  });

  it('cross the admin API boundary like every other error', () => {
    const error = new CertError('p12_bad_password', 'the PKCS#12 password is wrong');
    expect(error).toBeInstanceOf(ConsulateError);
    expect(error).toMatchObject({ code: 'p12_bad_password', status: 422, name: 'CertError' });
  });
});
