import type { CertCheckView, CertificateView, CertReportView, CertSlotView, StoredCertificateView } from '../admin/contract.js';
import type { CertificateInfo } from './certificate.js';
import type { SlotView } from './manager.js';
import type { StoredMeta } from './store.js';
import type { CertCheck, ValidationReport } from './validate.js';

/** JSON shapes of the admin API contract (and `--json` CLI output): dates as ISO strings. */

export function certificateView(info: CertificateInfo): CertificateView {
  return { ...info, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString(), sans: [...info.sans] };
}

export function storedView(meta: StoredMeta | { id: string; installedAt: Date; info: CertificateInfo }): StoredCertificateView {
  return { ...certificateView(meta.info), id: meta.id, installedAt: meta.installedAt.toISOString() };
}

export function checksView(checks: readonly CertCheck[]): CertCheckView[] {
  return checks.map((check) => ({ id: check.id, ok: check.ok, severity: check.severity, message: check.message, ...(check.code ? { code: check.code } : {}) }));
}

export function reportView(report: ValidationReport): CertReportView {
  const { summary } = report;
  return {
    ok: summary.ok,
    trusted: summary.trusted,
    daysUntilExpiry: summary.daysUntilExpiry,
    checks: checksView(report.checks),
    chain: summary.chain.map((entry) => ({ ...entry, notBefore: entry.notBefore.toISOString(), notAfter: entry.notAfter.toISOString() })),
  };
}

export function slotView(view: SlotView): CertSlotView {
  return {
    slot: view.slot,
    hostnames: view.hostnames,
    source: view.source,
    served: view.served,
    state: view.state,
    expiry: view.expiry
      ? { secondsToExpiry: view.expiry.secondsToExpiry, warningAt: view.expiry.warningAt.toISOString(), criticalAt: view.expiry.criticalAt.toISOString() }
      : null,
    current: view.current ? storedView(view.current) : null,
    previous: view.previous ? storedView(view.previous) : null,
    report: view.report ? reportView(view.report) : null,
    problem: view.problem,
  };
}
