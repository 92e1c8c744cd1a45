import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RotatingLog } from '../../electron/rotating-log.js';
import { backoffDelay, forkSpawner, realTimers, Supervisor, type ServiceStatus, type SpawnService, type Timers } from '../../electron/supervisor.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliPath = join(repoRoot, 'bin', 'consulate.js');
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'consulate-supervisor-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function listenOnFreePort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function freePort(): Promise<number> {
  const server = await listenOnFreePort();
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Arguments for the real service with every TCP listener on its own free loopback port. */
async function serviceArgs(dataDir: string, adminPort?: number): Promise<string[]> {
  return [
    'serve',
    '--data-dir',
    dataDir,
    '--admin-port',
    String(adminPort ?? (await freePort())),
    '--home-port',
    String(await freePort()),
    '--federation-host',
    '127.0.0.1',
    '--federation-port',
    String(await freePort()),
    '--relay-host',
    '127.0.0.1',
  ];
}

/** Counts spawns so a test can tell that restarts really stopped. */
function countingSpawner(): { spawn: SpawnService; count: () => number; pids: number[] } {
  const inner = forkSpawner();
  const pids: number[] = [];
  return {
    pids,
    count: () => pids.length,
    spawn: (request) => {
      const child = inner(request);
      pids.push(child.pid ?? -1);
      return child;
    },
  };
}

function supervise(options: ConstructorParameters<typeof Supervisor>[0]): { supervisor: Supervisor; states: ServiceStatus[] } {
  const supervisor = new Supervisor(options);
  const states: ServiceStatus[] = [];
  supervisor.on('status', (status) => states.push(status));
  cleanups.push(() => supervisor.stop());
  return { supervisor, states };
}

function waitForState(supervisor: Supervisor, state: ServiceStatus['state'], timeoutMs = 20_000): Promise<ServiceStatus> {
  if (supervisor.status.state === state) return Promise.resolve(supervisor.status);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${state}' within ${timeoutMs} ms; now ${JSON.stringify(supervisor.status)}`)), timeoutMs);
    const listener = (status: ServiceStatus) => {
      if (status.state !== state) return;
      clearTimeout(timer);
      supervisor.off('status', listener);
      resolve(status);
    };
    supervisor.on('status', listener);
  });
}

async function healthz(adminUrl: string): Promise<number> {
  const response = await fetch(`${adminUrl}/healthz`);
  return response.status;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('supervisor with the real service', () => {
  it('restarts the service after SIGKILL and it becomes ready again', async () => {
    const dataDir = tempDir();
    const logFile = join(dataDir, 'logs', 'service.log');
    const spawner = countingSpawner();
    const { supervisor, states } = supervise({
      spawn: spawner.spawn,
      modulePath: cliPath,
      args: await serviceArgs(dataDir),
      env: { ...process.env, CONSULATE_LOG_FORMAT: 'json' },
      backoffInitialMs: 200,
      log: new RotatingLog({ file: logFile }),
    });
    supervisor.start();
    const first = await supervisor.waitUntilReady();
    expect(first.loginToken).not.toBe('');
    expect(await healthz(first.adminUrl)).toBe(200);
    const firstPid = supervisor.pid as number;

    process.kill(firstPid, 'SIGKILL');
    const crashed = await waitForState(supervisor, 'crashed');
    expect(crashed.message).toMatch(/crashed \(killed by SIGKILL\); restarting in 0\.2 s/);

    const second = await supervisor.waitUntilReady();
    expect(supervisor.pid).not.toBe(firstPid);
    expect(spawner.count()).toBe(2);
    // Same port, fresh process: the GUI URL stays valid and a new one-time token is issued.
    expect(second.adminUrl).toBe(first.adminUrl);
    expect(second.loginToken).not.toBe(first.loginToken);
    expect(await healthz(second.adminUrl)).toBe(200);
    expect(states.map((s) => s.state)).toEqual(['starting', 'ready', 'crashed', 'starting', 'ready']);

    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('killed by SIGKILL');
    // The service's own pino lines are captured too, not just the supervisor's.
    expect(log).toMatch(/"msg":"Consulate .* is running/);
  });

  it('stops gracefully: the service exits on its own before the kill timeout', async () => {
    const dataDir = tempDir();
    const logFile = join(dataDir, 'service.log');
    const { supervisor } = supervise({
      spawn: forkSpawner(),
      modulePath: cliPath,
      args: await serviceArgs(dataDir),
      env: { ...process.env, CONSULATE_LOG_FORMAT: 'json' },
      stopTimeoutMs: 10_000,
      log: new RotatingLog({ file: logFile }),
    });
    supervisor.start();
    const ready = await supervisor.waitUntilReady();
    const pid = supervisor.pid as number;
    const started = Date.now();
    await supervisor.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(supervisor.status.state).toBe('stopped');
    expect(isAlive(pid)).toBe(false);
    await expect(healthz(ready.adminUrl)).rejects.toThrow();
    const log = readFileSync(logFile, 'utf8');
    expect(log, log).toContain('service stopped (exited with code 0)');
    expect(log).not.toContain('killing it');
  });

  it('reports the service fatal error in the crash-loop status when its port is taken', async () => {
    const dataDir = tempDir();
    const blocker = await listenOnFreePort();
    cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const spawner = countingSpawner();
    const { supervisor } = supervise({
      spawn: spawner.spawn,
      modulePath: cliPath,
      args: await serviceArgs(dataDir, port),
      env: { ...process.env, CONSULATE_LOG_FORMAT: 'json' },
      backoffInitialMs: 50,
      crashLimit: 2,
    });
    supervisor.start();
    const status = await waitForState(supervisor, 'crash-loop');
    expect(spawner.count()).toBe(2);
    expect(status.lastError?.code).toMatch(/\w+/);
    expect(status.message).toContain(`failed to start (${status.lastError?.code}:`);
    expect(status.message).toContain(String(port));
  });
});

describe('supervisor crash loop and timeouts', () => {
  it('stops restarting after the crash limit, with backoff doubling between attempts', async () => {
    const delays: number[] = [];
    // Real timers, but the restart delays are recorded and shortened so the test is quick.
    const timers: Timers = {
      ...realTimers,
      setTimeout: (callback, ms) => {
        if (ms !== 30_000) delays.push(ms);
        return realTimers.setTimeout(callback, ms === 30_000 ? ms : 10);
      },
    };
    const spawner = countingSpawner();
    const { supervisor, states } = supervise({
      spawn: spawner.spawn,
      modulePath: fixture('exit-immediately.mjs'),
      args: [],
      backoffInitialMs: 100,
      crashLimit: 5,
      crashWindowMs: 60_000,
      timers,
    });
    supervisor.start();
    const final = await waitForState(supervisor, 'crash-loop');
    expect(final.message).toBe(
      'Service crashed 5 times within 60 s; not restarting it. Last: service failed to start (exited with code 3). Check the log, then start it again.',
    );
    expect(final.crashes).toBe(5);
    expect(delays).toEqual([100, 200, 400, 800]);
    expect(states.filter((s) => s.state === 'crashed').map((s) => s.restartInMs)).toEqual([100, 200, 400, 800]);
    await expect(supervisor.waitUntilReady()).rejects.toThrow(/crashed 5 times/);

    // No more restarts happen on their own.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(spawner.count()).toBe(5);
    expect(supervisor.status.state).toBe('crash-loop');

    // An explicit start is the operator's decision and begins a fresh window.
    supervisor.start();
    expect(spawner.count()).toBe(6);
    await waitForState(supervisor, 'crash-loop');
    expect(spawner.count()).toBe(10);
  });

  it('counts only crashes inside the window', async () => {
    let clock = 0;
    // Each restart delay stands for 40 s of wall time; the ready timeout (60 s) runs for real.
    const timers: Timers = {
      ...realTimers,
      now: () => clock,
      setTimeout: (callback, ms) => (ms >= 60_000 ? realTimers.setTimeout(callback, ms) : realTimers.setTimeout(() => ((clock += 40_000), callback()), 5)),
    };
    const spawner = countingSpawner();
    const { supervisor } = supervise({
      spawn: spawner.spawn,
      modulePath: fixture('exit-immediately.mjs'),
      args: [],
      crashLimit: 3,
      crashWindowMs: 60_000,
      readyTimeoutMs: 60_000,
      timers,
    });
    supervisor.start();
    // With 40 s between crashes at most two fall in any 60 s window, so it keeps restarting.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(spawner.count()).toBeGreaterThan(3);
    expect(supervisor.status.state).not.toBe('crash-loop');
    expect(supervisor.status.crashes).toBeLessThanOrEqual(2);
  });

  it('kills a service that ignores the polite stop once the stop timeout passes', async () => {
    const { supervisor } = supervise({ spawn: forkSpawner(), modulePath: fixture('stubborn.mjs'), args: [], stopTimeoutMs: 500 });
    supervisor.start();
    await supervisor.waitUntilReady();
    const pid = supervisor.pid as number;
    const started = Date.now();
    await supervisor.stop();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(3_000);
    expect(isAlive(pid)).toBe(false);
    expect(supervisor.status.state).toBe('stopped');
  });

  it('treats a service that never reports ready as failed and restarts it', async () => {
    const dataDir = tempDir();
    const log = new RotatingLog({ file: join(dataDir, 'service.log') });
    const spawner = countingSpawner();
    const { supervisor } = supervise({
      spawn: spawner.spawn,
      modulePath: fixture('never-ready.mjs'),
      args: [],
      readyTimeoutMs: 300,
      backoffInitialMs: 50,
      crashLimit: 2,
      log,
    });
    supervisor.start();
    const status = await waitForState(supervisor, 'crash-loop');
    expect(status.lastError?.code).toBe('ready_timeout');
    expect(status.message).toContain('ready_timeout: no ready message within 0.3 s');
    expect(spawner.pids.every((pid) => !isAlive(pid))).toBe(true);
    const text = readFileSync(log.file, 'utf8');
    expect(text).toContain('fixture: starting and never finishing');
    expect(text).toContain('did not report ready within 300 ms');
  });
});

describe('backoff and log rotation', () => {
  it('doubles the delay per attempt up to the ceiling', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, 500, 30_000))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('rotates by size and keeps the configured number of files', () => {
    const dir = tempDir();
    const log = new RotatingLog({ file: join(dir, 'service.log'), maxBytes: 100, files: 3 });
    for (let i = 0; i < 10; i++) log.write(`${String(i).repeat(39)}\n`);
    expect(log.paths().map((p) => p.slice(dir.length + 1))).toEqual(['service.log', 'service.log.1', 'service.log.2']);
    expect(existsSync(join(dir, 'service.log.3'))).toBe(false);
    // Newest lines in the live file, the oldest kept ones in .2; nothing is split across files.
    expect(readFileSync(join(dir, 'service.log'), 'utf8')).toBe(`${'8'.repeat(39)}\n${'9'.repeat(39)}\n`);
    expect(readFileSync(join(dir, 'service.log.1'), 'utf8')).toBe(`${'6'.repeat(39)}\n${'7'.repeat(39)}\n`);
    expect(readFileSync(join(dir, 'service.log.2'), 'utf8')).toBe(`${'4'.repeat(39)}\n${'5'.repeat(39)}\n`);
    // A reopened log continues the live file's size instead of starting from zero.
    const reopened = new RotatingLog({ file: join(dir, 'service.log'), maxBytes: 100, files: 3 });
    reopened.write(`${'a'.repeat(39)}\n`);
    expect(readFileSync(join(dir, 'service.log.1'), 'utf8')).toBe(`${'8'.repeat(39)}\n${'9'.repeat(39)}\n`);
  });
});
