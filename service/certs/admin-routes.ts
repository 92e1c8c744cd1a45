import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseBody, type AdminState } from '../admin/server.js';
import {
  caInitRequest,
  caIssueRequest,
  certCsrRequest,
  certImportRequest,
  certRollbackRequest,
  type CaIssueResponse,
  type CaResponse,
  type CertCsrResponse,
  type CertErrorBody,
  type CertInstallResponse,
  type CertsResponse,
} from '../admin/contract.js';
import type { Service } from '../app.js';
import { ConsulateError } from '../errors.js';
import type { Kek } from '../identity/kek.js';
import { appendAudit, type AuditEntry } from '../store/audit.js';
import { createCsr } from './csr.js';
import { isCertError } from './errors.js';
import { applianceHostnames, orgCaDir, prepareImport, removePendingKey, savePendingKey } from './local.js';
import type { CertManager } from './manager.js';
import { describeOrgCa, initOrgCa, loadOrgCa } from './org-ca.js';
import { issueServerCertificate } from './private-ca.js';
import type { CertSlot, InstalledCertificate } from './store.js';
import type { ValidationReport } from './validate.js';
import { certificateView, checksView, reportView, slotView, storedView } from './views.js';

const actor = 'admin (GUI)';

function installView(slot: CertSlot, result: { installed: InstalledCertificate; report: ValidationReport }): CertInstallResponse {
  return { slot, installed: storedView(result.installed), report: reportView(result.report) };
}

/** A refused certificate answers 422 with its stable code and, when there is one, the whole report. */
async function refusing<T>(ctx: Context, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    if (!isCertError(error)) throw error;
    const checks = error.details?.['checks'] as ValidationReport['checks'] | undefined;
    ctx.status = error.status;
    ctx.body = {
      error: { code: error.code, message: error.message, ...(checks ? { checks: checksView(checks) } : {}) },
    } satisfies CertErrorBody;
    return undefined;
  }
}

/**
 * Certificates and the organisation CA for the GUI, the same operations as
 * `consulate cert …` and `consulate ca …`. Every change is in the audit log.
 */
export function certRoutes(router: Router<AdminState>, service: Service, kek: () => Kek): void {
  const manager = (): CertManager => {
    const certs = service.certificates;
    if (!certs) throw new ConsulateError('not_ready', 'the certificate manager is not running yet', { status: 503 });
    return certs;
  };
  const audit = (entry: AuditEntry) => service.store.db.transaction().execute((trx) => appendAudit(trx, entry));
  const caDir = orgCaDir(service.dataDir);

  router.get('/certs', async (ctx) => {
    const slots = await manager().status();
    ctx.body = { slots: slots.map(slotView), listener: { running: service.federation !== undefined } } satisfies CertsResponse;
  });

  router.post('/certs/csr', async (ctx) => {
    const body = parseBody(certCsrRequest, ctx.request.body);
    await refusing(ctx, async () => {
      const hostnames = body.hostnames ?? applianceHostnames(service.config);
      const csr = await createCsr({ hostnames, algorithm: body.keyType, commonName: body.commonName, organization: body.organization, country: body.country });
      await savePendingKey(service.dataDir, csr.keyPem);
      await audit({ actor, action: 'cert.csr', target: csr.hostnames.map((h) => h.value).join(','), details: { key: csr.key } });
      const first = csr.hostnames[0]?.value ?? 'consulate';
      ctx.body = {
        csrPem: csr.csrPem,
        fileName: `${first.replace(/^\*\./, 'wildcard.')}.csr`,
        key: csr.key,
        hostnames: csr.hostnames.map((h) => h.value),
      } satisfies CertCsrResponse;
    });
  });

  router.post('/certs/import', async (ctx) => {
    const body = parseBody(certImportRequest, ctx.request.body);
    await refusing(ctx, async () => {
      const certs = manager();
      const bundle = body.pem ?? new Uint8Array(Buffer.from(body.p12Base64 ?? '', 'base64'));
      const prepared = await prepareImport(service.dataDir, certs.store, { bundle, keyPem: body.keyPem, password: body.password });
      const result = await certs.install(body.slot, prepared.material);
      await removePendingKey(prepared.pendingKeyPath);
      await audit({
        actor,
        action: 'cert.install',
        target: body.slot,
        details: { fingerprint: result.installed.info.fingerprintSha256, subject: result.installed.info.subject, format: prepared.format },
      });
      ctx.body = installView(body.slot, result);
    });
  });

  router.post('/certs/rollback', async (ctx) => {
    const body = parseBody(certRollbackRequest, ctx.request.body);
    await refusing(ctx, async () => {
      const result = await manager().rollback(body.slot, { force: body.force });
      await audit({
        actor,
        action: 'cert.rollback',
        target: body.slot,
        details: { fingerprint: result.installed.info.fingerprintSha256, force: body.force === true },
      });
      ctx.body = installView(body.slot, result);
    });
  });

  router.get('/ca', async (ctx) => {
    await refusing(ctx, async () => {
      const ca = await describeOrgCa(caDir);
      ctx.body = {
        exists: ca !== undefined,
        certificate: ca ? certificateView(ca.info) : null,
        certPem: ca?.certPem ?? null,
        sealed: ca?.sealed ?? false,
      } satisfies CaResponse;
    });
  });

  router.post('/ca/init', async (ctx) => {
    const body = parseBody(caInitRequest, ctx.request.body);
    await refusing(ctx, async () => {
      const ca = await initOrgCa({
        dir: caDir,
        kek: kek(),
        commonName: body.commonName,
        organization: body.organization,
        country: body.country,
        algorithm: body.keyType,
        validityDays: body.validityDays,
      });
      await audit({ actor, action: 'ca.init', target: ca.info.subject, details: { fingerprint: ca.info.fingerprintSha256 } });
      ctx.status = 201;
      ctx.body = { exists: true, certificate: certificateView(ca.info), certPem: ca.certPem, sealed: ca.sealed } satisfies CaResponse;
    });
  });

  router.post('/ca/issue', async (ctx) => {
    const body = parseBody(caIssueRequest, ctx.request.body);
    if (!body.install && !body.csrPem)
      throw new ConsulateError('bad_request', 'csrPem: a certificate for another machine needs its CSR, so its key never travels');
    await refusing(ctx, async () => {
      const ca = await loadOrgCa(caDir, kek);
      const hostnames = body.hostnames ?? (body.csrPem ? undefined : applianceHostnames(service.config));
      const issued = await issueServerCertificate({ ca, hostnames, csrPem: body.csrPem, algorithm: body.keyType, validityDays: body.validityDays });
      await audit({
        actor,
        action: 'ca.issue',
        target: issued.info.sans.join(','),
        details: { serial: issued.info.serialNumber, fingerprint: issued.info.fingerprintSha256 },
      });
      let installed: CertInstallResponse | null = null;
      if (body.install) {
        const certs = manager();
        const prepared = issued.keyPem
          ? { material: { certChainPem: issued.chainPem, keyPem: issued.keyPem }, pendingKeyPath: undefined }
          : await prepareImport(service.dataDir, certs.store, { bundle: issued.chainPem });
        const result = await certs.install(body.slot, prepared.material);
        await removePendingKey(prepared.pendingKeyPath);
        await audit({
          actor,
          action: 'cert.install',
          target: body.slot,
          details: { fingerprint: result.installed.info.fingerprintSha256, subject: result.installed.info.subject, format: 'private-ca' },
        });
        installed = installView(body.slot, result);
      }
      ctx.status = 201;
      ctx.body = { certificate: certificateView(issued.info), chainPem: issued.chainPem, installed } satisfies CaIssueResponse;
    });
  });
}
