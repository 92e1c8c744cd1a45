import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { ConsulateError } from '../errors.js';

/** Who the audit log names for a change made with the CLI. */
export const cliActor = `admin (CLI, ${process.env['USER'] ?? process.env['USERNAME'] ?? 'unknown user'})`;

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A file named on the command line; file_unreadable with the reason otherwise. */
export function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConsulateError('file_unreadable', `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** A secret from `--<name>-env VAR` or the first line of `--<name>-file FILE`; undefined when neither was given. */
export function secretFromOptions(name: 'password' | 'passphrase', envVar: string | undefined, file: string | undefined): string | undefined {
  if (envVar !== undefined && file !== undefined) throw new ConsulateError('bad_request', `give --${name}-env or --${name}-file, not both`);
  if (envVar !== undefined) {
    const value = process.env[envVar];
    if (value === undefined) throw new ConsulateError('bad_request', `--${name}-env: the environment variable ${envVar} is not set`);
    return value;
  }
  if (file !== undefined)
    return readInput(file, `${name} file`)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  return undefined;
}

/** Reads a password without echo; only on a terminal, so scripts fail instead of hanging. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolvePassword, reject) => {
    const stdin = process.stdin;
    let value = '';
    const finish = (): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolvePassword(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new ConsulateError('confirmation_required', 'cancelled: nothing was changed'));
          return;
        }
        value = ch === '\u007f' || ch === '\b' ? value.slice(0, -1) : value + ch;
      }
    };
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** Asks on a terminal; false without one, so scripts never hang. */
export async function confirm(question: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim().toLowerCase() === expected.toLowerCase();
  } finally {
    rl.close();
  }
}
