import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConsulateError } from '../errors.js';
import type { Envelope } from '../link/frames.js';

export interface ArchiveRecord {
  direction: 'in' | 'out';
  peer: string;
  envelope: Envelope;
  at: number;
}

export interface ManifestEntry {
  segment: string;
  records: number;
  bytes: number;
  sha256: string;
  prevHash: string;
  hash: string;
  closedAt: string;
}

const manifestName = 'manifest.jsonl';
const genesis = '0'.repeat(64);

function chainHash(prevHash: string, entry: Omit<ManifestEntry, 'hash' | 'prevHash'>): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, entry.segment, entry.records, entry.bytes, entry.sha256, entry.closedAt]))
    .digest('hex');
}

/**
 * Archive of every federated envelope (ciphertext and metadata) for monitoring regimes:
 * JSON lines in segment files, rotated by size; each closed segment's SHA-256 goes into
 * a hash-chained manifest, so a removed, edited or reordered segment is detected.
 * Records are written (and synced) before the envelope is committed to a queue: a crash
 * can leave a record for an envelope that is then redelivered and archived again, never a gap.
 */
export class EnvelopeArchive {
  readonly #dir: string;
  readonly #segmentBytes: number;
  #fd: number | undefined;
  #segment = '';
  #bytes = 0;
  #records = 0;
  #hash = createHash('sha256');

  constructor(dir: string, options: { segmentBytes?: number } = {}) {
    this.#dir = dir;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  append(records: ArchiveRecord[]): void {
    if (records.length === 0) return;
    if (this.#fd === undefined) this.#open();
    const text = records
      .map((r) =>
        JSON.stringify({
          dir: r.direction,
          peer: r.peer,
          at: new Date(r.at).toISOString(),
          id: r.envelope.id,
          from: r.envelope.from,
          to: r.envelope.to,
          type: r.envelope.type,
          ts: r.envelope.ts,
          ref: r.envelope.ref,
          body: Buffer.from(r.envelope.body).toString('base64'),
        }),
      )
      .join('\n');
    const data = Buffer.from(`${text}\n`);
    writeSync(this.#fd as number, data);
    fsyncSync(this.#fd as number);
    this.#hash.update(data);
    this.#bytes += data.length;
    this.#records += records.length;
    if (this.#bytes >= this.#segmentBytes) this.rotate();
  }

  #open(): void {
    // A segment left open by a crash is closed into the manifest first, as it is.
    for (const name of readdirSync(this.#dir)
      .filter((n) => n.endsWith('.open.jsonl'))
      .sort())
      this.#closeOrphan(name);
    this.#segment = `segment-${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}.open.jsonl`;
    this.#fd = openSync(join(this.#dir, this.#segment), 'a', 0o600);
    this.#bytes = 0;
    this.#records = 0;
    this.#hash = createHash('sha256');
  }

  #closeOrphan(name: string): void {
    const data = readFileSync(join(this.#dir, name));
    const records = data.toString('utf8').split('\n').filter(Boolean).length;
    this.#record(this.#seal(name), records, data.length, createHash('sha256').update(data).digest('hex'));
  }

  /** A closed segment loses its `.open` mark, so it is never taken for an orphan again. */
  #seal(name: string): string {
    const closed = name.replace(/\.open\.jsonl$/, '.jsonl');
    renameSync(join(this.#dir, name), join(this.#dir, closed));
    return closed;
  }

  /** Closes the current segment into the manifest; the next append opens a new one. */
  rotate(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#record(this.#seal(this.#segment), this.#records, this.#bytes, this.#hash.digest('hex'));
  }

  #record(segment: string, records: number, bytes: number, sha256: string): void {
    const manifest = this.manifest();
    const prevHash = manifest.at(-1)?.hash ?? genesis;
    const base = { segment, records, bytes, sha256, closedAt: new Date().toISOString() };
    const entry: ManifestEntry = { ...base, prevHash, hash: chainHash(prevHash, base) };
    const fd = openSync(join(this.#dir, manifestName), 'a', 0o600);
    writeSync(fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(fd);
    closeSync(fd);
  }

  manifest(): ManifestEntry[] {
    const path = join(this.#dir, manifestName);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ManifestEntry);
  }

  close(): void {
    this.rotate();
  }

  /** Checks every closed segment against the manifest and the manifest's chain. */
  verify(): { segments: number; records: number } {
    let prev = genesis;
    let records = 0;
    const entries = this.manifest();
    for (const entry of entries) {
      const { hash, prevHash, ...base } = entry;
      if (prevHash !== prev || chainHash(prevHash, base) !== hash)
        throw new ConsulateError('archive_tampered', `the manifest chain breaks at ${entry.segment}`);
      const path = join(this.#dir, entry.segment);
      if (!existsSync(path)) throw new ConsulateError('archive_tampered', `segment ${entry.segment} is missing`);
      const data = readFileSync(path);
      if (statSync(path).size !== entry.bytes || createHash('sha256').update(data).digest('hex') !== entry.sha256) {
        throw new ConsulateError('archive_tampered', `segment ${entry.segment} was changed after it was closed`);
      }
      records += entry.records;
      prev = hash;
    }
    return { segments: entries.length, records };
  }
}
