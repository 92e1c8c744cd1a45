import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { LogEntryView } from './contract.js';
import type { Logger } from '../telemetry/logger.js';

const levelNames: Record<number, LogEntryView['level']> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'v']);

/** The login URL carries the one-time token; the GUI log view must never show it. */
function scrub(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/#token=[^\s"&]+/g, '#token=[redacted]');
  if (Array.isArray(value)) return value.map(scrub);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, /token|password|secret|csrf|cookie/i.test(k) ? '[redacted]' : scrub(v)]));
  }
  return value;
}

export function parseLogLine(line: string, id: number): LogEntryView | undefined {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== 'object') return undefined;
    record = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const level = levelNames[Number(record['level'])] ?? 'info';
  const time = typeof record['time'] === 'string' ? record['time'] : new Date(typeof record['time'] === 'number' ? record['time'] : Date.now()).toISOString();
  const fields = Object.fromEntries(Object.entries(record).filter(([k]) => !hidden.has(k)));
  return { id, time, level, msg: scrub(String(record['msg'] ?? '')) as string, fields: scrub(fields) as Record<string, unknown> };
}

/**
 * Keeps the last lines the service logged, for the GUI's live log view. It taps the
 * logger's destination (pino exposes it as `pino.symbols.streamSym`, a documented symbol)
 * so every child logger is included and the service's own log output is unchanged.
 */
export class LogTail extends EventEmitter<{ entry: [LogEntryView] }> {
  readonly #entries: LogEntryView[] = [];
  readonly #capacity: number;
  #nextId = 1;
  readonly available: boolean;

  constructor(logger: Logger, capacity = 1000) {
    super();
    this.#capacity = capacity;
    this.setMaxListeners(100);
    this.available = this.#attach(logger);
  }

  entries(sinceId = 0): LogEntryView[] {
    return this.#entries.filter((e) => e.id > sinceId);
  }

  #attach(logger: Logger): boolean {
    const key = pino.symbols.streamSym as unknown as keyof Logger;
    const target = logger[key] as unknown as { write?: (chunk: string) => unknown } | undefined;
    if (!target || typeof target.write !== 'function') return false;
    const record = (chunk: string) => this.#record(chunk);
    // A proxy, not a wrapper object: flush/flushSync and friends must still run on the real stream.
    const tap = new Proxy(target, {
      get(object, property) {
        if (property === 'write') {
          return (chunk: string) => {
            record(chunk);
            return (object.write as (c: string) => unknown).call(object, chunk);
          };
        }
        const value = Reflect.get(object, property, object) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
      },
    });
    (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = tap;
    return true;
  }

  #record(chunk: string): void {
    for (const line of String(chunk).split('\n')) {
      if (!line.trim()) continue;
      const entry = parseLogLine(line, this.#nextId);
      if (!entry) continue;
      this.#nextId += 1;
      this.#entries.push(entry);
      if (this.#entries.length > this.#capacity) this.#entries.shift();
      this.emit('entry', entry);
    }
  }
}
