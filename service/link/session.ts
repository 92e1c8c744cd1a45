import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { LinkError, isLinkErrorCode } from './errors.js';
import { FrameReader, FrameWriter, decodeFrame, encodeFrameTransient, responseType, type Frame, type FrameOf, type RequestType } from './frames.js';

/** The two directions of a finished Noise handshake. */
export interface TransportCiphers {
  /** encrypt returns new memory: the plaintext's buffer is reused for the next message. */
  send: { encrypt(plaintext: Uint8Array): Uint8Array; rekey(): void };
  receive: { decrypt(ciphertext: Uint8Array): Uint8Array; rekey(): void };
}

export type RequestFrame = FrameOf<RequestType>;
type ResponseOf<T extends RequestType> = FrameOf<(typeof responseType)[T]>;
type Unidentified<F> = F extends unknown ? Omit<F, 'id'> : never;

/** Answers a request from the peer; throw a LinkError to answer with its code. */
export type RequestHandler = (frame: RequestFrame, session: LinkSession) => Promise<Frame>;

export interface LinkSessionOptions {
  peerDomain: string;
  direction: 'outbound' | 'inbound';
  ciphers: TransportCiphers;
  handler: RequestHandler;
  /** Largest reassembled frame accepted from the peer (default 16 MiB). */
  maxFrameBytes?: number;
  /** Requests of ours awaiting an answer at once; more wait in line (default 256). */
  maxInFlight?: number;
  requestTimeoutMs?: number;
  pingIntervalMs?: number;
  /** No traffic for this long means the link is dead (default 3 ping intervals). */
  deadAfterMs?: number;
  /** Each direction rekeys after this many transport messages (default 2^20). */
  rekeyEvery?: number;
}

interface Pending {
  resolve(frame: Frame): void;
  reject(error: Error): void;
  deadline: number;
  timeoutMs: number;
  /** The request's type; its answer must be responseType[type]. */
  type: RequestType;
}

export interface LinkCounters {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
}

/**
 * One authenticated link over one WebSocket: Noise transport messages carrying chunked
 * CBOR frames, request/response with ids, a bounded number in flight, keepalive, rekeying.
 */
export class LinkSession extends EventEmitter<{ close: [error: LinkError | undefined]; rtt: [ms: number]; frame: [frame: Frame] }> {
  readonly peerDomain: string;
  readonly direction: 'outbound' | 'inbound';
  readonly counters: LinkCounters = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  rttMs: number | undefined;
  readonly #socket: WebSocket;
  readonly #ciphers: TransportCiphers;
  readonly #handler: RequestHandler;
  readonly #reader: FrameReader;
  readonly #writer = new FrameWriter();
  #flushScheduled = false;
  #transmitting = false;
  #sweep: NodeJS.Timeout | undefined;
  readonly #pending = new Map<number, Pending>();
  readonly #waiting: Array<() => void> = [];
  readonly #maxInFlight: number;
  readonly #requestTimeoutMs: number;
  readonly #rekeyEvery: number;
  readonly #deadAfterMs: number;
  #nextId = 1;
  #sent = 0;
  #received = 0;
  #lastHeard = Date.now();
  #closed = false;
  readonly #keepalive: NodeJS.Timeout;

  constructor(socket: WebSocket, options: LinkSessionOptions) {
    super();
    this.#socket = socket;
    this.peerDomain = options.peerDomain;
    this.direction = options.direction;
    this.#ciphers = options.ciphers;
    this.#handler = options.handler;
    this.#reader = new FrameReader(options.maxFrameBytes ?? 16 * 1024 * 1024);
    this.#maxInFlight = options.maxInFlight ?? 256;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#rekeyEvery = options.rekeyEvery ?? 2 ** 20;
    const pingInterval = options.pingIntervalMs ?? 15_000;
    this.#deadAfterMs = options.deadAfterMs ?? pingInterval * 3;
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    socket.on('close', (code: number, reason: Buffer) => this.#onClose(code, reason.toString()));
    socket.on('error', () => {
      // 'close' follows and carries the outcome.
    });
    this.#keepalive = setInterval(() => this.#tick(), pingInterval);
    this.#keepalive.unref();
  }

  get open(): boolean {
    return !this.#closed;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Sends a request and resolves with the peer's answer, or rejects with its error code. */
  request<T extends RequestType>(frame: Unidentified<FrameOf<T>>, timeoutMs = this.#requestTimeoutMs): Promise<ResponseOf<T>> {
    if (this.#pending.size >= this.#maxInFlight && !this.#closed) {
      // Waits in line for a free slot, then tries again (another waiter may have taken it).
      return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.request<T>(frame, timeoutMs));
    }
    if (this.#closed) return Promise.reject(new LinkError('peer_unreachable', `link to ${this.peerDomain} is closed`));
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 2 ** 32 - 1 ? 1 : this.#nextId + 1;
    return new Promise<ResponseOf<T>>((resolve, reject) => {
      // One sweep timer per session instead of a timer per request: requests are many and short.
      this.#pending.set(id, { resolve: resolve as (f: Frame) => void, reject, deadline: Date.now() + timeoutMs, timeoutMs, type: frame.t });
      this.#sweep ??= setInterval(() => this.#expire(), Math.min(1000, Math.max(10, timeoutMs / 4)));
      try {
        this.send({ ...frame, id } as Frame);
      } catch (error) {
        this.#settle(id);
        reject(error as Error);
      }
    });
  }

  #expire(): void {
    const now = Date.now();
    for (const [id, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#settle(id);
      pending.reject(new LinkError('timeout', `${pending.type} to ${this.peerDomain} got no answer within ${pending.timeoutMs} ms`));
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  /** Measures the round trip with a ping. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.request<'ping'>({ t: 'ping', ts: Date.now() });
    const rtt = performance.now() - started;
    this.rttMs = rtt;
    this.emit('rtt', rtt);
    return rtt;
  }

  send(frame: Frame): void {
    if (this.#closed) throw new LinkError('peer_unreachable', `link to ${this.peerDomain} is closed`);
    // The encoded bytes live in cbor-x's shared buffer until the writer has copied them, and the
    // writer may transmit (encrypt and write to the socket) before it has: a send from inside a
    // transmit would overwrite them. ws never calls back synchronously from send, so this only
    // turns a future change of that into a loud error instead of a corrupt frame.
    if (this.#transmitting) throw new LinkError('internal', 'LinkSession.send called while a message was being transmitted');
    this.#writer.add(encodeFrameTransient(frame), this.#transmitBound);
    this.counters.framesOut++;
    if (this.#writer.pending && !this.#flushScheduled) {
      this.#flushScheduled = true;
      // Frames sent in this turn of the event loop leave together in one Noise message.
      setImmediate(() => this.#flush());
    }
  }

  /**
   * Sends the frames waiting for the end of this turn now: for a caller that knows it has
   * nothing more to add (the router after its batches), so they do not wait a turn.
   */
  flush(): void {
    if (this.#closed) return;
    this.#writer.flush(this.#transmitBound);
  }

  readonly #transmitBound = (plaintext: Uint8Array): void => this.#transmit(plaintext);

  #flush(): void {
    this.#flushScheduled = false;
    this.flush();
  }

  #transmit(plaintext: Uint8Array): void {
    const message = this.#ciphers.send.encrypt(plaintext);
    this.#sent++;
    if (this.#sent % this.#rekeyEvery === 0) this.#ciphers.send.rekey();
    this.counters.bytesOut += message.length;
    this.#transmitting = true;
    try {
      this.#socket.send(message, { binary: true });
    } finally {
      this.#transmitting = false;
    }
  }

  /** Orderly close: tells the peer why, then closes the socket. */
  goaway(code: string, reason: string): void {
    if (this.#closed) return;
    try {
      this.send({ t: 'goaway', code, reason });
      this.#flush();
    } catch {
      // closing anyway
    }
    this.#socket.close(1000, code.slice(0, 100));
    this.#finish(undefined);
  }

  /** Bytes the socket still has to write: the measure for backpressure upstream. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#lastHeard = Date.now();
    this.counters.bytesIn += data.length;
    try {
      if (!isBinary) throw new LinkError('frame_malformed', 'text WebSocket message on a link');
      let plaintext: Uint8Array;
      try {
        plaintext = this.#ciphers.receive.decrypt(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } catch (error) {
        throw new LinkError('decrypt_failed', 'a link message failed authentication', { cause: error });
      }
      this.#received++;
      if (this.#received % this.#rekeyEvery === 0) this.#ciphers.receive.rekey();
      for (const bytes of this.#reader.push(plaintext)) {
        const frame = decodeFrame(bytes);
        this.counters.framesIn++;
        this.#dispatch(frame);
        if (this.#closed) return;
      }
    } catch (error) {
      const linkError = error instanceof LinkError ? error : new LinkError('internal', (error as Error).message);
      // A peer that sends undecryptable or malformed data is not trusted to continue.
      this.#abort(linkError);
    }
  }

  #dispatch(frame: Frame): void {
    this.emit('frame', frame);
    switch (frame.t) {
      case 'goaway':
        this.#socket.close(1000, 'goaway');
        this.#finish(isLinkErrorCode(frame.code) && frame.code !== 'shutting_down' ? new LinkError(frame.code, frame.reason) : undefined);
        return;
      case 'error':
        if (frame.id !== undefined && this.#pending.has(frame.id)) {
          const pending = this.#settle(frame.id);
          pending?.reject(new LinkError(isLinkErrorCode(frame.code) ? frame.code : 'internal', frame.message));
        }
        return;
      case 'lookup.ok':
      case 'ack':
      case 'call.join.ok':
      case 'key.rotate.ok':
      case 'pong': {
        const pending = this.#pending.get(frame.id);
        if (!pending) return; // an answer after its timeout
        this.#settle(frame.id);
        const expect = responseType[pending.type];
        if (expect !== frame.t) pending.reject(new LinkError('frame_malformed', `expected ${expect}, got ${frame.t}`));
        else pending.resolve(frame);
        return;
      }
      case 'ping':
        this.send({ t: 'pong', id: frame.id, ts: frame.ts });
        return;
      default:
        void this.#answer(frame);
    }
  }

  async #answer(frame: RequestFrame): Promise<void> {
    let answer: Frame;
    try {
      answer = await this.#handler(frame, this);
    } catch (error) {
      const code = error instanceof LinkError || (error as { code?: string }).code ? String((error as { code: string }).code) : 'internal';
      answer = { t: 'error', id: frame.id, code, message: (error as Error).message.slice(0, 500) };
    }
    if (!this.#closed) this.send(answer);
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    this.#waiting.shift()?.();
    return pending;
  }

  #tick(): void {
    if (Date.now() - this.#lastHeard > this.#deadAfterMs) {
      this.#abort(new LinkError('timeout', `nothing heard from ${this.peerDomain} for ${Math.round(this.#deadAfterMs / 1000)} s`));
      return;
    }
    this.ping().catch(() => {
      // a missed pong shows up as silence on the next tick
    });
  }

  #abort(error: LinkError): void {
    if (this.#closed) return;
    try {
      this.send({ t: 'goaway', code: error.code, reason: error.message.slice(0, 200) });
      this.#flush();
    } catch {
      // the socket may already be gone
    }
    this.#socket.close(4000, error.code);
    this.#finish(error);
  }

  #onClose(code: number, reason: string): void {
    this.#finish(
      code === 1000 || code === 1001
        ? undefined
        : new LinkError(isLinkErrorCode(reason) ? reason : 'peer_unreachable', `link closed (${code}${reason ? ` ${reason}` : ''})`),
    );
  }

  #finish(error: LinkError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    clearInterval(this.#sweep);
    for (const [id, pending] of this.#pending) {
      pending.reject(error ?? new LinkError('peer_unreachable', `link to ${this.peerDomain} closed`));
      this.#pending.delete(id);
    }
    for (const wake of this.#waiting.splice(0)) wake();
    this.emit('close', error);
  }
}
