import { describe, expect, it } from 'vitest';
import { expiryState } from '../../../service/certs/index.js';

const day = 86_400_000;
const start = new Date('2026-01-01T00:00:00Z');
const after = (days: number): Date => new Date(start.getTime() + days * day);

describe('expiryState', () => {
  it('for a 90-day certificate: ok, warning at 30 days left, critical at 14, then expired', () => {
    const notAfter = after(90);
    expect(expiryState(start, notAfter, after(1)).state).toBe('ok');
    expect(expiryState(start, notAfter, after(59)).state).toBe('ok');
    expect(expiryState(start, notAfter, after(60)).state).toBe('warning');
    expect(expiryState(start, notAfter, after(75)).state).toBe('warning');
    expect(expiryState(start, notAfter, after(76)).state).toBe('critical');
    expect(expiryState(start, notAfter, after(89.9)).state).toBe('critical');
    expect(expiryState(start, notAfter, after(90)).state).toBe('expired');
    expect(expiryState(start, notAfter, after(100)).state).toBe('expired');
  });

  it('reports seconds to expiry, negative once expired, and when the states begin', () => {
    const status = expiryState(start, after(90), after(89));
    expect(status.secondsToExpiry).toBe(86_400);
    expect(expiryState(start, after(90), after(91)).secondsToExpiry).toBe(-86_400);
    expect(status.warningAt).toEqual(after(60));
    expect(status.criticalAt).toEqual(after(76));
  });

  it('for a 397-day certificate warns with a third of the lifetime left', () => {
    const notAfter = after(397);
    expect(expiryState(start, notAfter, after(264)).state).toBe('ok');
    expect(expiryState(start, notAfter, after(266)).state).toBe('warning');
    expect(expiryState(start, notAfter, after(384)).state).toBe('critical');
  });

  it('for a short-lived 7-day certificate uses windows shorter than its lifetime', () => {
    const notAfter = after(7);
    expect(expiryState(start, notAfter, after(1)).state).toBe('ok');
    expect(expiryState(start, notAfter, after(5)).state).toBe('warning');
    expect(expiryState(start, notAfter, after(6)).state).toBe('critical');
  });

  it('treats a certificate that is not valid yet as ok (validity is a separate check)', () => {
    expect(expiryState(after(10), after(100), start).state).toBe('ok');
  });
});
