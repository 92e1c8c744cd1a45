import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../telemetry/logger.js';
import type { CheckpointReport } from './checkpoint-worker.js';
import type { Store } from './database.js';

/** SQLite's own default: a checkpoint whenever the WAL passes this many pages. */
const AUTOCHECKPOINT_PAGES = 1000;
/**
 * Above this many WAL pages the service checkpoints again itself. Under sustained writes the
 * worker's checkpoint never catches up with the end of the WAL, and a WAL starts over from its
 * beginning only after a checkpoint that did; the service's own checkpoint, run right after its
 * commit while nothing else writes, does. Back under the default the worker takes over again.
 */
const HIGH_WATER_PAGES = 4 * AUTOCHECKPOINT_PAGES;

/**
 * Checkpoints the WAL from a worker thread instead of inside whichever commit happens to push the
 * WAL past 1000 pages. With synchronous=NORMAL a commit writes to the WAL without fsync, but a
 * checkpoint copies the pages into the database file and fsyncs both files; done on the service's
 * own thread it stalled that commit, and every request behind it, for a few milliseconds several
 * times a second under load (bench/README.md, messaging: p99 at 500 msg/s).
 *
 * The worker's PASSIVE checkpoints run beside the writer (WAL mode lets them), so the service's
 * thread never copies pages or waits for the disk. Once the worker has opened the database the
 * service turns its own automatic checkpoints off; if the worker fails or exits, they are turned
 * back on, so the WAL never grows without bound.
 */
export class Checkpointer {
  readonly #worker: Worker | undefined;
  readonly #store: Store;
  readonly #logger: Logger;
  #stopping = false;
  #active = false;
  /** The WAL passed HIGH_WATER_PAGES: the service checkpoints itself until it is short again. */
  #overflow = false;

  constructor(store: Store, options: { logger: Logger; metrics?: Registry; intervalMs?: number }) {
    this.#store = store;
    this.#logger = options.logger;
    const pending = options.metrics
      ? new Gauge({ name: 'consulate_db_wal_pending_pages', help: 'WAL pages not yet copied into the database file', registers: [options.metrics] })
      : undefined;
    const checkpoints = options.metrics
      ? new Counter({
          name: 'consulate_db_checkpoints_total',
          help: 'WAL checkpoints that copied pages, by the background checkpointer',
          registers: [options.metrics],
        })
      : undefined;
    const script = new URL('./checkpoint-worker.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) {
      // Running from the TypeScript sources (unit tests): there is no compiled worker; SQLite checkpoints as usual.
      this.#stopping = true;
      return;
    }
    const worker = new Worker(script, {
      workerData: { path: store.path, intervalMs: options.intervalMs ?? 100 },
      // Its whole job is one pragma: a small heap keeps the thread's memory small.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    this.#worker = worker;
    worker.unref();
    worker.on('message', (report: CheckpointReport) => {
      if (report.type === 'ready') {
        if (this.#stopping) return;
        store.sqlite.pragma('wal_autocheckpoint = 0');
        this.#active = true;
      } else if (report.type === 'checkpoint') {
        const log = report.log ?? 0;
        pending?.set(log - (report.checkpointed ?? 0));
        if ((report.checkpointed ?? 0) > 0) checkpoints?.inc();
        if (this.#stopping || !store.sqlite.open) return;
        if (!this.#overflow && log > HIGH_WATER_PAGES) {
          this.#overflow = true;
          store.sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
        } else if (this.#overflow && log < AUTOCHECKPOINT_PAGES) {
          this.#overflow = false;
          store.sqlite.pragma('wal_autocheckpoint = 0');
        }
      } else this.#fallBack(report.message ?? 'failed');
    });
    worker.on('error', (error) => this.#fallBack(error.message));
    worker.on('exit', (code) => {
      if (!this.#stopping) this.#fallBack(`exited with code ${code}`);
    });
  }

  /** Whether checkpoints currently run in the worker alone (not before it is ready, after a fallback, or while the WAL is over its high-water mark). */
  get active(): boolean {
    return this.#active && !this.#overflow;
  }

  #fallBack(reason: string): void {
    if (this.#stopping || !this.#store.sqlite.open) return;
    this.#stopping = true;
    this.#active = false;
    this.#store.sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    this.#logger.warn({ reason }, 'background WAL checkpointer stopped; the service checkpoints the database itself again');
    void this.#worker?.terminate();
  }

  /** Stops the worker; call before the store closes (its close then checkpoints what is left). */
  async stop(): Promise<void> {
    const worker = this.#worker;
    if (this.#stopping || !worker) return;
    this.#stopping = true;
    this.#active = false;
    if (this.#store.sqlite.open) this.#store.sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), 2000);
    await exited;
    clearTimeout(timeout);
  }
}
