import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingLogOptions {
  /** The live file; rotated copies are `<file>.1` (newest) to `<file>.<files - 1>` (oldest). */
  file: string;
  /** Rotate before a write would take the live file past this size. Default 5 MiB. */
  maxBytes?: number;
  /** How many files to keep in total, the live one included. Default 5. */
  files?: number;
}

/**
 * Size-based rotating log file. Writes are synchronous on purpose: the volume is a
 * service's log lines, and a synchronous append keeps lines in order across rotation
 * and means nothing is lost if the shell exits right after a crash is recorded.
 */
export class RotatingLog {
  readonly file: string;
  readonly maxBytes: number;
  readonly files: number;
  #size: number;

  constructor(options: RotatingLogOptions) {
    this.file = options.file;
    this.maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    this.files = Math.max(1, options.files ?? 5);
    mkdirSync(dirname(this.file), { recursive: true });
    this.#size = existsSync(this.file) ? statSync(this.file).size : 0;
  }

  /** Every file of this log that exists, live file first. */
  paths(): string[] {
    const all = [this.file];
    for (let i = 1; i < this.files; i++) all.push(`${this.file}.${i}`);
    return all.filter((p) => existsSync(p));
  }

  write(chunk: string | Buffer): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.length === 0) return;
    if (this.#size > 0 && this.#size + data.length > this.maxBytes) this.rotate();
    appendFileSync(this.file, data, { mode: 0o600 });
    this.#size += data.length;
  }

  rotate(): void {
    if (this.files === 1) {
      rmSync(this.file, { force: true });
    } else {
      rmSync(`${this.file}.${this.files - 1}`, { force: true });
      for (let i = this.files - 2; i >= 1; i--) {
        const from = `${this.file}.${i}`;
        if (existsSync(from)) renameSync(from, `${this.file}.${i + 1}`);
      }
      if (existsSync(this.file)) renameSync(this.file, `${this.file}.1`);
    }
    this.#size = 0;
  }
}
