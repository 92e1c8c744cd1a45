import { describe, expect, it } from 'vitest';
import { CertError, dnsNameMatches, parseHostname } from '../../../service/certs/index.js';
import { sansCover } from '../../../service/certs/hostname.js';

describe('RFC 6125 wildcard matching', () => {
  it.each([
    ['*.example.org', 'fed.example.org', true],
    ['*.example.org', 'FED.Example.ORG.', true],
    ['*.example.org', 'example.org', false],
    ['*.example.org', 'a.b.example.org', false],
    ['*.example.org', '.example.org', false],
    ['f*.example.org', 'fed.example.org', false],
    ['fed.*.org', 'fed.example.org', false],
    ['*.*.example.org', 'a.b.example.org', false],
    ['*.org', 'example.org', false],
    ['fed.example.org', 'fed.example.org', true],
    ['fed.example.org', 'files.example.org', false],
  ])('%s vs %s → %s', (pattern, hostname, expected) => {
    expect(dnsNameMatches(pattern, hostname)).toBe(expected);
  });

  it('matches IP addresses only against IP SANs, in any spelling', () => {
    const sans = { dns: ['*.example.org', '10.0.0.1'], ip: ['2001:db8::1', '192.0.2.7'] };
    expect(sansCover(sans, parseHostname('2001:0db8:0:0::1'))).toBe(true);
    expect(sansCover(sans, parseHostname('[2001:db8::1]'))).toBe(true);
    expect(sansCover(sans, parseHostname('192.0.2.7'))).toBe(true);
    expect(sansCover(sans, parseHostname('10.0.0.1'))).toBe(false);
  });

  it('normalises what operators type, including internationalised names', () => {
    expect(parseHostname(' Fed.Example.ORG. ')).toEqual({ kind: 'dns', value: 'fed.example.org' });
    expect(parseHostname('bücher.example')).toEqual({ kind: 'dns', value: 'xn--bcher-kva.example' });
    expect(parseHostname('*.example.org', { allowWildcard: true })).toEqual({ kind: 'dns', value: '*.example.org' });
    for (const bad of ['', 'fed example.org', '-fed.example.org', '*.example.org', 'a..b', 'x'.repeat(64) + '.org']) {
      expect(() => parseHostname(bad), bad).toThrow(CertError);
    }
    expect(() => parseHostname('*.org', { allowWildcard: true })).toThrow(CertError);
  });
});
