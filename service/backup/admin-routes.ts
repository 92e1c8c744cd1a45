import type Router from '@koa/router';
import { parseBody, type AdminState } from '../admin/server.js';
import {
  backupCreateRequest,
  backupInspectRequest,
  backupRestoreRequest,
  type BackupCreateResponse,
  type BackupContentsView,
  type BackupRestoreResponse,
} from '../admin/contract.js';
import type { Service } from '../app.js';
import { ConsulateError } from '../errors.js';
import { backupContents, backupFileName, collectBackup, openBackup, sealBackup } from './backup.js';

const actor = 'admin (GUI)';

/** POST /api/backup, /api/backup/inspect, /api/backup/restore. */
export function backupRoutes(router: Router<AdminState>, service: Service): void {
  router.post('/backup', async (ctx) => {
    const { passphrase } = parseBody(backupCreateRequest, ctx.request.body);
    const payload = await collectBackup(service.backupSources());
    const backup = await sealBackup(payload, passphrase);
    service.logger.info({ actor, peers: payload.tables.peers.length }, 'configuration backup made');
    ctx.body = {
      fileName: backupFileName(service.config.domain),
      backup,
      contents: backupContents(payload) satisfies BackupContentsView,
    } satisfies BackupCreateResponse;
  });

  router.post('/backup/inspect', async (ctx) => {
    const { backup, passphrase } = parseBody(backupInspectRequest, ctx.request.body);
    ctx.body = backupContents(await openBackup(backup, passphrase)) satisfies BackupContentsView;
  });

  router.post('/backup/restore', async (ctx) => {
    const { backup, passphrase, confirm } = parseBody(backupRestoreRequest, ctx.request.body);
    const payload = await openBackup(backup, passphrase);
    if (confirm !== payload.domain) {
      throw new ConsulateError(
        'confirmation_required',
        `restoring replaces this appliance's keys, whitelist and settings; confirm by giving the backup's domain (${payload.domain})`,
      );
    }
    const result = await service.restore(payload, passphrase, actor);
    ctx.body = result satisfies BackupRestoreResponse;
  });
}
