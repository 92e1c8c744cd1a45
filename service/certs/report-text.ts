import type { CertificateInfo } from './certificate.js';
import type { CertCheck, ValidationReport } from './validate.js';

/** Plain-text renderings shared by the CLI commands; the GUI renders the JSON itself. */

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function checkMark(check: CertCheck): 'PASS' | 'FAIL' | 'WARN' {
  if (check.ok) return 'PASS';
  return check.severity === 'error' ? 'FAIL' : 'WARN';
}

/** One line per check: `PASS  chain               The chain builds to ...`. */
export function reportLines(report: ValidationReport): string[] {
  const width = Math.max(...report.checks.map((check) => check.id.length));
  return report.checks.map((check) => `${checkMark(check)}  ${check.id.padEnd(width)}  ${check.ok ? '' : `${check.code ?? 'failed'}: `}${check.message}`);
}

export function summaryLine(report: ValidationReport): string {
  const { summary } = report;
  const failed = report.checks.filter((check) => !check.ok && check.severity === 'error').length;
  const warned = report.checks.filter((check) => !check.ok && check.severity !== 'error').length;
  const verdict = summary.ok ? (warned > 0 ? `OK with ${warned} warning${warned > 1 ? 's' : ''}` : 'OK') : `FAILED (${failed} error${failed > 1 ? 's' : ''})`;
  return `${verdict}: expires ${isoSeconds(summary.notAfter)} (${summary.daysUntilExpiry} days, ${summary.expiry.state}), SHA-256 ${summary.fingerprintSha256}`;
}

export function infoLines(info: CertificateInfo, now: Date = new Date(), indent = '  '): string[] {
  const days = Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
  return [
    `${indent}subject      ${info.subject}`,
    `${indent}SANs         ${info.sans.join(', ') || '(none)'}`,
    `${indent}issuer       ${info.issuer}${info.selfSigned ? ' (self-signed)' : ''}`,
    `${indent}valid        ${isoSeconds(info.notBefore)} to ${isoSeconds(info.notAfter)} (${days >= 0 ? `${days} days left` : `expired ${-days} days ago`})`,
    `${indent}serial       ${info.serialNumber}`,
    `${indent}SHA-256      ${info.fingerprintSha256}`,
    `${indent}key          ${info.key}, signed with ${info.signatureAlgorithm}${info.isCa ? ', CA certificate' : ''}`,
  ];
}
