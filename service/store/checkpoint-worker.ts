import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

/**
 * Runs in a worker thread: its own connection to the database copies committed WAL frames back
 * into the database file (PASSIVE checkpoints, which never wait for and never block the writer).
 * See checkpointer.ts for why.
 */
export interface CheckpointReport {
  type: 'ready' | 'checkpoint' | 'error';
  /** Frames in the WAL and how many of them are in the database file, after this checkpoint. */
  log?: number;
  checkpointed?: number;
  message?: string;
}

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const port = parentPort!;
const post = (report: CheckpointReport): void => port.postMessage(report);

let db: BetterSqlite3.Database;
try {
  db = new BetterSqlite3(path, { fileMustExist: true });
  // A checkpoint copies WAL frames straight into the database file; this connection reads no
  // tables, so 64 KiB of page cache is plenty (better-sqlite3's default is 16 MiB).
  db.pragma('cache_size = -64');
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'error', message: (error as Error).message });
  process.exit(1);
}

let last = '';
const timer = setInterval(() => {
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    // -1 / -1: another connection (the service, over the high-water mark) was checkpointing; nothing to report.
    if (!row || row.log < 0 || row.checkpointed < 0) return;
    const now = `${row.log}/${row.checkpointed}`;
    if (now !== last) post({ type: 'checkpoint', log: row.log, checkpointed: row.checkpointed });
    last = now;
  } catch (error) {
    clearInterval(timer);
    post({ type: 'error', message: (error as Error).message });
    process.exit(1);
  }
}, intervalMs);

port.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
