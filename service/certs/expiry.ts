export type ExpiryState = 'ok' | 'warning' | 'critical' | 'expired';

export interface ExpiryStatus {
  state: ExpiryState;
  /** Negative once expired. */
  secondsToExpiry: number;
  /** When the state turns `warning` and `critical`; for scheduling reminders. */
  warningAt: Date;
  criticalAt: Date;
}

const day = 86_400_000;
const criticalCap = 14 * day;

/**
 * Warning when a third of the lifetime is left (30 days for a 90-day certificate, about
 * 132 for a 397-day one), so renewal automation has two retries before anyone is paged.
 * Critical at 14 days, or at half the warning window for short-lived certificates where
 * 14 days would be most of their life (a 7-day certificate: warning at 56 h, critical at 28 h).
 */
export function expiryState(notBefore: Date, notAfter: Date, now: Date): ExpiryStatus {
  const lifetime = Math.max(0, notAfter.getTime() - notBefore.getTime());
  const remaining = notAfter.getTime() - now.getTime();
  const warningWindow = lifetime / 3;
  const criticalWindow = Math.min(criticalCap, warningWindow / 2);
  const warningAt = new Date(notAfter.getTime() - warningWindow);
  const criticalAt = new Date(notAfter.getTime() - criticalWindow);
  let state: ExpiryState = 'ok';
  if (remaining <= 0) state = 'expired';
  else if (remaining <= criticalWindow) state = 'critical';
  else if (remaining <= warningWindow) state = 'warning';
  return { state, secondsToExpiry: Math.floor(remaining / 1000), warningAt, criticalAt };
}
