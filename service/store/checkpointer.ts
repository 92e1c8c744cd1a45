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
 * starting: the worker is opening the database, SQLite checkpoints as usual;
 * worker: the worker alone checkpoints; service: the WAL is over HIGH_WATER_PAGES and the
 * service checkpoints too until it is short again; stopped: stopped, failed, or no worker.
 */
type State = 'starting' | 'worker' | 'service' | 'stopped';

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
  #state: State = 'starting';

  constructor(store: Store, options: { logger: Logger; metrics?: Registry; intervalMs?: number }) {
    this.#store = store;
    this.#logger = options.logger;
    const script = new URL('./checkpoint-worker.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) {
      // Running from the TypeScript sources (unit tests): there is no compiled worker; SQLite checkpoints as usual.
      this.#state = 'stopped';
      return;
    }
    const registers = options.metrics ? [options.metrics] : [];
    const pending = new Gauge({ name: 'consulate_db_wal_pending_pages', help: 'WAL pages not yet copied into the database file', registers });
    const checkpoints = new Counter({
      name: 'consulate_db_checkpoints_total',
      help: 'WAL checkpoints that copied pages, by the background checkpointer',
      registers,
    });
    const worker = new Worker(script, {
      workerData: { path: store.path, intervalMs: options.intervalMs ?? 100 },
      // Its whole job is one pragma: a small heap keeps the thread's memory small.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    this.#worker = worker;
    worker.unref();
    worker.on('message', (report: CheckpointReport) => {
      if (report.type === 'error') return this.#fallBack(report.message ?? 'failed');
      if (report.type === 'ready') return this.#enter('worker');
      const log = report.log ?? 0;
      pending.set(log - (report.checkpointed ?? 0));
      if ((report.checkpointed ?? 0) > 0) checkpoints.inc();
      if (this.#state === 'worker' && log > HIGH_WATER_PAGES) this.#enter('service');
      else if (this.#state === 'service' && log < AUTOCHECKPOINT_PAGES) this.#enter('worker');
    });
    worker.on('error', (error) => this.#fallBack(error.message));
    worker.on('exit', (code) => this.#fallBack(`exited with code ${code}`));
  }

  /** Whether checkpoints currently run in the worker alone (not before it is ready, after a fallback, or while the WAL is over its high-water mark). */
  get active(): boolean {
    return this.#state === 'worker';
  }

  /** The one place the service's own automatic checkpoints are switched: off only while the worker alone does them. */
  #enter(state: State): void {
    if (this.#state === 'stopped') return;
    this.#state = state;
    if (this.#store.sqlite.open) this.#store.sqlite.pragma(`wal_autocheckpoint = ${state === 'worker' ? 0 : AUTOCHECKPOINT_PAGES}`);
  }

  #fallBack(reason: string): void {
    if (this.#state === 'stopped') return;
    this.#enter('stopped');
    this.#logger.warn({ reason }, 'background WAL checkpointer stopped; the service checkpoints the database itself again');
    void this.#worker?.terminate();
  }

  /** Stops the worker; call before the store closes (its close then checkpoints what is left). */
  async stop(): Promise<void> {
    const worker = this.#worker;
    if (this.#state === 'stopped' || !worker) return;
    this.#enter('stopped');
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), 2000);
    await exited;
    clearTimeout(timeout);
  }
}
