import { statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type * as CheckpointerModule from '../../service/store/checkpointer.js';
import { openStore, type Store } from '../../service/store/database.js';
import { createLogger } from '../../service/telemetry/logger.js';
import { waitFor } from '../helpers/appliance.js';
import { tempDir } from '../helpers/service-process.js';

// The worker runs compiled JavaScript, so this test uses the build (`npm test` builds first).
const distModule = new URL('../../dist/service/store/checkpointer.js', import.meta.url).href;
const { Checkpointer } = (await import(distModule)) as typeof CheckpointerModule;

const PAGE = 4096;

function capture(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination, format: 'json' }), lines };
}

const until = (check: () => boolean, what: string) => waitFor(check, 5000, what, 20);

describe('background WAL checkpointer', () => {
  let store: Store | undefined;
  let checkpointer: CheckpointerModule.Checkpointer | undefined;
  afterEach(async () => {
    await checkpointer?.stop();
    await store?.close();
    store = undefined;
    checkpointer = undefined;
  });

  const autocheckpoint = () => store!.sqlite.pragma('wal_autocheckpoint', { simple: true }) as number;
  const write = (pages: number) => {
    store!.sqlite.exec('create table if not exists filler (b blob)');
    const insert = store!.sqlite.prepare('insert into filler (b) values (randomblob(?))');
    store!.sqlite.transaction(() => {
      for (let i = 0; i < pages; i++) insert.run(PAGE - 100);
    })();
  };

  it('copies the WAL into the database file from its thread while the service never checkpoints', async () => {
    store = await openStore({ dataDir: tempDir(), logger: capture().logger });
    const metrics = new Registry();
    checkpointer = new Checkpointer(store, { logger: capture().logger, metrics, intervalMs: 20 });
    await until(() => checkpointer!.active, 'the worker to be ready');
    expect(autocheckpoint()).toBe(0);
    const before = statSync(store.path).size;
    // 1500 pages: past SQLite's own 1000-page threshold, below the high-water mark.
    write(1500);
    // With wal_autocheckpoint 0 the service's connection never checkpoints: only the worker can have copied the pages.
    await until(() => statSync(store!.path).size >= before + 1400 * PAGE, 'the worker to copy the pages into the database file');
    expect(autocheckpoint()).toBe(0);
    const text = await metrics.metrics();
    expect(Number(/consulate_db_checkpoints_total (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
    expect(checkpointer.active).toBe(true);
  });

  it('hands checkpoints back to the service while the WAL is over its high-water mark, and takes them again when it is short', async () => {
    store = await openStore({ dataDir: tempDir(), logger: capture().logger });
    checkpointer = new Checkpointer(store, { logger: capture().logger, intervalMs: 20 });
    await until(() => checkpointer!.active, 'the worker to be ready');
    write(5000);
    await until(() => autocheckpoint() === 1000, 'the service to checkpoint itself again');
    expect(checkpointer.active).toBe(false);
    // The WAL starts over at the next commit after a complete checkpoint; then the worker takes over again.
    await until(() => {
      write(1);
      return autocheckpoint() === 0;
    }, 'the worker to take over again');
    expect(checkpointer.active).toBe(true);
  });

  it('falls back to checkpoints on the service thread when the worker cannot run, and says so once', async () => {
    store = await openStore({ dataDir: tempDir(), logger: capture().logger });
    const { logger, lines } = capture();
    // A database path the worker cannot open (fileMustExist): it reports the error and exits.
    checkpointer = new Checkpointer({ ...store, path: `${store.path}.missing` }, { logger, intervalMs: 20 });
    await until(() => lines.length > 0, 'the fallback warning');
    await new Promise((r) => setTimeout(r, 200));
    expect(autocheckpoint()).toBe(1000);
    expect(checkpointer.active).toBe(false);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: expect.stringContaining('checkpoints the database itself again') });
  });

  it('restores SQLite automatic checkpoints when stopped, so the store closes as before', async () => {
    store = await openStore({ dataDir: tempDir(), logger: capture().logger });
    checkpointer = new Checkpointer(store, { logger: capture().logger, intervalMs: 20 });
    await until(() => checkpointer!.active, 'the worker to be ready');
    await checkpointer.stop();
    expect(autocheckpoint()).toBe(1000);
    expect(checkpointer.active).toBe(false);
  });
});
