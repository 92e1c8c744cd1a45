import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { RotatingLog } from './rotating-log.js';

/**
 * Supervises the Consulate service process: readiness handshake, restart with
 * exponential backoff, a crash-loop limit, graceful stop and log capture.
 *
 * Plain Node on purpose (no 'electron' import): the shell passes an adapter around
 * Electron's utilityProcess.fork, tests pass child_process.fork, and everything here
 * runs under plain Node with the real service.
 */

export type ServiceState = 'idle' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'crashed' | 'crash-loop';

/** What the service sends once all its listeners are up. */
export interface ReadyMessage {
  type: 'ready';
  adminUrl: string;
  loginToken: string;
  version: string;
}

/** What the service sends before exiting on a fatal start-up error. */
export interface FatalMessage {
  type: 'fatal';
  code: string;
  message: string;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** Why the process could not run at all, when that is the case. */
  error?: string;
}

/** The slice of a child process the supervisor needs; adapters exist for both runtimes. */
export interface ServiceChild {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  /** Posts a message over the IPC channel; must not throw if the channel is gone. */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (exit: ExitInfo) => void): void;
  /** Polite OS-level stop (SIGTERM on POSIX). */
  terminate(): void;
  /** Forced stop, used when the polite one timed out. */
  kill(): void;
}

export interface SpawnRequest {
  modulePath: string;
  args: string[];
  /** The complete environment for the child. */
  env: Record<string, string>;
}

export type SpawnService = (request: SpawnRequest) => ServiceChild;

export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SupervisorOptions {
  spawn: SpawnService;
  /** Entry point of the service, e.g. bin/consulate.js. */
  modulePath: string;
  /** Arguments, e.g. ['serve', '--data-dir', dir]. */
  args: string[];
  /** Environment for the child. Default: this process's environment. */
  env?: Record<string, string | undefined>;
  /** Time allowed between spawn and the ready message. Default 30 s. */
  readyTimeoutMs?: number;
  /** Time allowed for a graceful stop before the process is killed. Default 7 s (the service promises 5 s). */
  stopTimeoutMs?: number;
  /** First restart delay; doubles per consecutive failure. Default 500 ms. */
  backoffInitialMs?: number;
  /** Ceiling of the restart delay. Default 30 s. */
  backoffMaxMs?: number;
  /** This many crashes within crashWindowMs stop the restarts. Default 5. */
  crashLimit?: number;
  /** Default 60 s. */
  crashWindowMs?: number;
  /** Where the child's stdout/stderr and the supervisor's own events go. */
  log?: Pick<RotatingLog, 'write'>;
  timers?: Timers;
}

export interface ServiceStatus {
  state: ServiceState;
  /** One line an operator can act on. */
  message: string;
  pid?: number;
  adminUrl?: string;
  version?: string;
  /** Set while state is 'crashed': when the next start happens. */
  restartInMs?: number;
  /** Crashes counted in the current window. */
  crashes: number;
  /** The last fatal message from the service, if any. */
  lastError?: { code: string; message: string };
}

export interface SupervisorEvents {
  status: [ServiceStatus];
  ready: [ReadyMessage];
}

export function isReadyMessage(value: unknown): value is ReadyMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return m['type'] === 'ready' && typeof m['adminUrl'] === 'string' && typeof m['loginToken'] === 'string' && typeof m['version'] === 'string';
}

export function isFatalMessage(value: unknown): value is FatalMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return m['type'] === 'fatal' && typeof m['code'] === 'string' && typeof m['message'] === 'string';
}

/** Delay before restart number `attempt` (1-based): initial * 2^(attempt-1), capped. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}

/** "300 ms" → "0.3 s", "60000" → "60 s": status lines are read by operators, not parsed. */
export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function describeExit(exit: ExitInfo): string {
  if (exit.error) return `could not run: ${exit.error}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #options: Required<Omit<SupervisorOptions, 'log' | 'env'>> & Pick<SupervisorOptions, 'log'> & { env: Record<string, string | undefined> };
  #status: ServiceStatus = { state: 'idle', message: 'Service not started', crashes: 0 };
  #child: ServiceChild | undefined;
  #readyTimer: unknown;
  #restartTimer: unknown;
  #killTimer: unknown;
  #crashTimes: number[] = [];
  #attempt = 0;
  #ready: ReadyMessage | undefined;
  #stopWaiters: Array<() => void> = [];
  #readyWaiters: Array<{ resolve: (m: ReadyMessage) => void; reject: (e: Error) => void }> = [];

  constructor(options: SupervisorOptions) {
    super();
    this.#options = {
      env: process.env,
      readyTimeoutMs: 30_000,
      stopTimeoutMs: 7_000,
      backoffInitialMs: 500,
      backoffMaxMs: 30_000,
      crashLimit: 5,
      crashWindowMs: 60_000,
      timers: realTimers,
      ...options,
    };
  }

  get status(): ServiceStatus {
    return { ...this.#status };
  }

  /** The ready message of the running service; undefined unless state is 'ready'. */
  get readyInfo(): ReadyMessage | undefined {
    return this.#status.state === 'ready' ? this.#ready : undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Starts the service. An explicit start also clears a crash loop: the operator has
   * seen the status and asked again.
   */
  start(): void {
    const { state } = this.#status;
    if (state === 'starting' || state === 'ready') return;
    if (state === 'stopping') {
      this.#stopWaiters.push(() => this.start());
      return;
    }
    this.#cancelRestart();
    this.#crashTimes = [];
    this.#attempt = 0;
    this.#launch();
  }

  /** Resolves with the ready message, or rejects when the service stops or enters a crash loop first. */
  waitUntilReady(): Promise<ReadyMessage> {
    if (this.#status.state === 'ready' && this.#ready) return Promise.resolve(this.#ready);
    if (this.#status.state === 'crash-loop') return Promise.reject(new Error(this.#status.message));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Graceful stop: IPC shutdown and SIGTERM, then a kill after stopTimeoutMs. */
  stop(): Promise<void> {
    this.#cancelRestart();
    const child = this.#child;
    if (!child) {
      this.#setStatus({ state: 'stopped', message: 'Service stopped' });
      this.#rejectReadyWaiters('the service was stopped');
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
    if (this.#status.state !== 'stopping') {
      this.#clearReadyTimer();
      this.#setStatus({ state: 'stopping', message: 'Stopping the service', pid: child.pid });
      child.send({ type: 'shutdown' });
      child.terminate();
      const { timers, stopTimeoutMs } = this.#options;
      this.#killTimer = timers.setTimeout(() => {
        this.#record(`service did not stop within ${stopTimeoutMs} ms; killing it`);
        child.kill();
      }, stopTimeoutMs);
    }
    return done;
  }

  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  #launch(): void {
    const { spawn, modulePath, args, env, timers, readyTimeoutMs } = this.#options;
    this.#ready = undefined;
    let child: ServiceChild;
    try {
      child = spawn({ modulePath, args, env: cleanEnv(env) });
    } catch (error) {
      this.#onCrash(`could not start the service: ${(error as Error).message}`);
      return;
    }
    this.#child = child;
    this.#record(`service started (pid ${child.pid ?? 'unknown'})`);
    this.#setStatus({ state: 'starting', message: 'Starting the service', pid: child.pid });
    child.stdout?.on('data', (chunk: Buffer | string) => this.#options.log?.write(chunk));
    child.stderr?.on('data', (chunk: Buffer | string) => this.#options.log?.write(chunk));
    let fatal: FatalMessage | undefined;
    child.onMessage((message) => {
      if (child !== this.#child) return;
      if (isReadyMessage(message) && this.#status.state === 'starting') {
        this.#clearReadyTimer();
        this.#ready = message;
        // A run that reached ready resets the backoff; the crash window still counts.
        this.#attempt = 0;
        this.#record(`service ready at ${message.adminUrl} (version ${message.version})`);
        this.#setStatus({
          state: 'ready',
          message: `Service running (version ${message.version})`,
          pid: child.pid,
          adminUrl: message.adminUrl,
          version: message.version,
        });
        this.emit('ready', message);
        for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve(message);
      } else if (isFatalMessage(message)) {
        fatal = message;
        this.#status.lastError = { code: message.code, message: message.message };
        this.#record(`service reported fatal error ${message.code}: ${message.message}`);
      }
    });
    child.onExit((exit) => {
      if (child !== this.#child) return;
      this.#child = undefined;
      this.#clearReadyTimer();
      if (this.#killTimer !== undefined) {
        timers.clearTimeout(this.#killTimer);
        this.#killTimer = undefined;
      }
      if (this.#status.state === 'stopping') {
        this.#record(`service stopped (${describeExit(exit)})`);
        this.#setStatus({ state: 'stopped', message: 'Service stopped' });
        this.#rejectReadyWaiters('the service was stopped');
        for (const waiter of this.#stopWaiters.splice(0)) waiter();
        return;
      }
      const reason = fatal ? `${fatal.code}: ${fatal.message}` : describeExit(exit);
      this.#onCrash(`service ${this.#status.state === 'starting' ? 'failed to start' : 'crashed'} (${reason})`);
    });
    this.#readyTimer = timers.setTimeout(() => {
      this.#readyTimer = undefined;
      if (child !== this.#child || this.#status.state !== 'starting') return;
      this.#record(`service did not report ready within ${readyTimeoutMs} ms; killing it`);
      fatal = { type: 'fatal', code: 'ready_timeout', message: `no ready message within ${formatSeconds(readyTimeoutMs)}` };
      this.#status.lastError = { code: fatal.code, message: fatal.message };
      child.kill();
    }, readyTimeoutMs);
  }

  #onCrash(reason: string): void {
    const { timers, crashLimit, crashWindowMs, backoffInitialMs, backoffMaxMs } = this.#options;
    const now = timers.now();
    this.#crashTimes = [...this.#crashTimes.filter((t) => now - t < crashWindowMs), now];
    const crashes = this.#crashTimes.length;
    this.#record(reason);
    if (crashes >= crashLimit) {
      const message = `Service crashed ${crashes} times within ${formatSeconds(crashWindowMs)}; not restarting it. Last: ${reason}. Check the log, then start it again.`;
      this.#record(message);
      this.#setStatus({ state: 'crash-loop', message, crashes });
      this.#rejectReadyWaiters(message);
      for (const waiter of this.#stopWaiters.splice(0)) waiter();
      return;
    }
    this.#attempt += 1;
    const delay = backoffDelay(this.#attempt, backoffInitialMs, backoffMaxMs);
    this.#setStatus({
      state: 'crashed',
      message: `${reason[0]?.toUpperCase() ?? ''}${reason.slice(1)}; restarting in ${formatSeconds(delay)}`,
      crashes,
      restartInMs: delay,
    });
    this.#restartTimer = timers.setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#status.state === 'crashed') this.#launch();
    }, delay);
  }

  #setStatus(next: Omit<ServiceStatus, 'crashes' | 'lastError'> & { crashes?: number }): void {
    const lastError = this.#status.lastError;
    this.#status = { crashes: this.#crashTimes.length, ...next, ...(lastError && next.state !== 'ready' ? { lastError } : {}) };
    if (next.state === 'ready') delete this.#status.lastError;
    this.emit('status', this.status);
  }

  #record(message: string): void {
    this.#options.log?.write(`${JSON.stringify({ time: this.#options.timers.now(), source: 'supervisor', msg: message })}\n`);
  }

  #clearReadyTimer(): void {
    if (this.#readyTimer !== undefined) {
      this.#options.timers.clearTimeout(this.#readyTimer);
      this.#readyTimer = undefined;
    }
  }

  #cancelRestart(): void {
    if (this.#restartTimer !== undefined) {
      this.#options.timers.clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
    }
  }

  #rejectReadyWaiters(reason: string): void {
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(new Error(reason));
  }
}

/** A SpawnService over child_process.fork, for plain Node (tests, a non-Electron host). */
export function forkSpawner(options: { execArgv?: string[]; execPath?: string } = {}): SpawnService {
  return ({ modulePath, args, env }) => {
    const child = fork(modulePath, args, {
      env,
      execArgv: options.execArgv ?? [],
      ...(options.execPath ? { execPath: options.execPath } : {}),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      send(message) {
        // The callback swallows EPIPE from a child that is already exiting: the exit handler reports it.
        if (child.connected) child.send(message as object, () => undefined);
      },
      onMessage(listener) {
        child.on('message', listener);
      },
      onExit(listener) {
        // A child that could not be spawned at all (ENOENT) emits 'error' and no 'exit'.
        let reported = false;
        const report = (exit: ExitInfo) => {
          if (reported) return;
          reported = true;
          listener(exit);
        };
        child.once('exit', (code, signal) => report({ code, signal }));
        child.once('error', (error) => {
          if (child.pid === undefined) report({ code: null, signal: null, error: error.message });
        });
      },
      terminate() {
        child.kill('SIGTERM');
      },
      kill() {
        child.kill('SIGKILL');
      },
    };
  };
}
