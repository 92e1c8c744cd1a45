import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = join(repoRoot, 'bin', 'consulate.js');

export function tempDir(prefix = 'consulate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`consulate ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningService {
  child: ChildProcess;
  adminUrl: string;
  homeUrl: string;
  loginUrl: string;
  token: string;
  dataDir: string;
  startedInMs: number;
  output(): string;
  /** Sends a signal and resolves with the exit code and how long the stop took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/** Starts `consulate serve` as a real process and waits for its "running" log line. */
export function startService(args: string[] = [], options: { dataDir?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunningService> {
  const dataDir = options.dataDir ?? tempDir();
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dataDir, '--admin-port', '0', '--home-port', '0', ...args], {
    env: { ...process.env, CONSULATE_LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start in time:\n${output}`));
    }, options.timeoutMs ?? 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('"loginUrl"')) continue;
        const entry = JSON.parse(line) as { adminUrl: string; homeUrl: string; loginUrl: string };
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', (c: Buffer) => (output += c.toString()));
        resolve({
          child,
          dataDir,
          adminUrl: entry.adminUrl,
          homeUrl: entry.homeUrl,
          loginUrl: entry.loginUrl,
          token: entry.loginUrl.split('#token=')[1] ?? '',
          startedInMs: Date.now() - started,
          output: () => output,
          stop: (signal = 'SIGTERM') =>
            new Promise((done) => {
              const t0 = Date.now();
              if (child.exitCode !== null) return done({ code: child.exitCode, ms: 0 });
              child.once('exit', (code) => done({ code, ms: Date.now() - t0 }));
              child.kill(signal);
            }),
        });
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before starting:\n${output}`));
    });
  });
}
