import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** auto: pretty on a TTY, JSON lines otherwise (journald, log shippers, tests). */
  format?: 'auto' | 'pretty' | 'json';
  /** Where log lines go; stdout by default. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? 'auto';
  const usePretty = format === 'pretty' || (format === 'auto' && (destination as { isTTY?: boolean }).isTTY === true);
  const base = { level: options.level ?? 'info', base: { service: 'consulate' } };
  if (usePretty) {
    // In-process pretty stream (no worker thread) so lines are not lost on a fast exit.
    return pino(base, pretty({ destination, colorize: true, sync: true, ignore: 'pid,hostname,service' }));
  }
  return pino({ ...base, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
