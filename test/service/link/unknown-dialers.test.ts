import { describe, expect, it } from 'vitest';
import { UnknownDialers } from '../../../service/link/unknown-dialers.js';

describe('unknown dialers (appliances refused because they are not whitelisted)', () => {
  it('counts attempts per claimed domain, keeps the last five addresses, newest first', () => {
    let now = 1_000_000;
    const list = new UnknownDialers(() => now);
    for (let i = 0; i < 7; i++) list.note('x.example', `10.0.0.${i}`);
    now += 1000;
    list.note('y.example', '10.0.1.1');
    expect(list.list().map((d) => [d.domain, d.attempts])).toEqual([
      ['y.example', 1],
      ['x.example', 7],
    ]);
    expect(list.list()[1]?.addresses).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  });

  it('stays bounded: a flood of made-up domains keeps 50, dropping the ones heard from longest ago', () => {
    let now = 0;
    const list = new UnknownDialers(() => now);
    for (let i = 0; i < 500; i++) {
      now++;
      list.note(`d${i}.example`, '10.0.0.1');
    }
    const domains = list.list().map((d) => d.domain);
    expect(domains).toHaveLength(50);
    expect(domains[0]).toBe('d499.example');
    expect(domains).not.toContain('d449.example');
  });

  it('hides a dismissed domain for a day, and forgets one that was whitelisted', () => {
    let now = 0;
    const list = new UnknownDialers(() => now);
    list.note('x.example', '10.0.0.1');
    list.note('y.example', '10.0.0.2');
    expect(list.dismiss('X.example')).toBe(true);
    list.note('x.example', '10.0.0.1');
    list.forget('y.example');
    expect(list.list()).toEqual([]);
    now += 24 * 3_600_000 + 1;
    list.note('x.example', '10.0.0.1');
    expect(list.list().map((d) => [d.domain, d.attempts])).toEqual([['x.example', 1]]);
  });
});
