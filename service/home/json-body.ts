import type { Middleware } from 'koa';
import { ConsulateError } from '../errors.js';

/**
 * The home API's JSON body reader. The request is read into one Buffer (sized from
 * Content-Length when the home sends it), decoded once and parsed once. A general body parser
 * (co-body) builds the text by string concatenation, keeps a second copy as the raw body and scans
 * it again for `__proto__`; on the submit path, where a request carries thousands of envelopes,
 * those copies were about a third of everything the sending appliance allocated (bench/README.md).
 *
 * `__proto__` needs no scan here: JSON.parse makes it an ordinary own property, and every home API
 * schema is a strict object, so such a key is refused as unknown before any handler sees it.
 *
 * Only `application/json` (and `+json`) bodies of POST, PUT and PATCH are read, UTF-8 with or without a byte order mark; anything else leaves the body
 * undefined, which the handler's schema refuses. Compressed bodies are refused (`bad_request`).
 */
export function jsonBody(limitBytes: number): Middleware {
  return async (ctx, next) => {
    if ((ctx.method !== 'POST' && ctx.method !== 'PUT' && ctx.method !== 'PATCH') || !ctx.is('application/json', '+json')) return next();
    const encoding = ctx.get('content-encoding');
    if (encoding && encoding.toLowerCase() !== 'identity')
      throw new ConsulateError('bad_request', `Content-Encoding ${encoding} is not accepted; send the JSON uncompressed`, { status: 415 });
    const declared = ctx.get('content-length');
    const length = declared === '' ? undefined : Number(declared);
    if (length !== undefined && length > limitBytes) throw tooLarge(limitBytes);
    const raw = await readBody(ctx.req, length, limitBytes);
    let parsed: unknown;
    try {
      // A leading UTF-8 byte order mark is allowed (RFC 8259 §8.1 lets a parser ignore it).
      const start = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
      parsed = raw.length === start ? undefined : JSON.parse(raw.toString('utf8', start));
    } catch (error) {
      throw new ConsulateError('bad_request', `request body is not valid JSON: ${(error as Error).message}`);
    }
    ctx.request.body = parsed;
    return next();
  };
}

function tooLarge(limitBytes: number): ConsulateError {
  return new ConsulateError('too_large', `request body exceeds ${limitBytes / 1048576} MiB; send fewer envelopes per request`, { status: 413 });
}

/** Up to this declared length the final Buffer is allocated before the bytes arrive; a larger body is joined when complete, so a request that only announces a large body reserves nothing. */
const PREALLOCATE_MAX = 1024 * 1024;

function readBody(req: NodeJS.ReadableStream, length: number | undefined, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // With a declared length the bytes go straight into their final Buffer; otherwise (chunked, or large) they are joined once at the end.
    const whole = length !== undefined && length <= PREALLOCATE_MAX ? Buffer.allocUnsafe(length) : undefined;
    const expected = length ?? limitBytes;
    const chunks: Buffer[] = [];
    let received = 0;
    const done = (error?: Error): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (error) {
        req.resume(); // drain what is left so the connection can answer
        reject(error);
      }
    };
    const onData = (chunk: Buffer): void => {
      if (whole) {
        if (received + chunk.length > whole.length) return done(new ConsulateError('bad_request', 'request body is longer than its Content-Length'));
        chunk.copy(whole, received);
      } else {
        if (received + chunk.length > expected)
          return done(length === undefined ? tooLarge(limitBytes) : new ConsulateError('bad_request', 'request body is longer than its Content-Length'));
        chunks.push(chunk);
      }
      received += chunk.length;
    };
    const onEnd = (): void => {
      done();
      if (length !== undefined && received !== length) return reject(new ConsulateError('bad_request', 'request body is shorter than its Content-Length'));
      resolve(whole ?? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)));
    };
    const onError = (error: Error): void => done(new ConsulateError('bad_request', `request body could not be read: ${error.message}`));
    const onAborted = (): void => done(new ConsulateError('bad_request', 'the home closed the connection before the request body was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
