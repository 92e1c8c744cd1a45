import type { Middleware } from 'koa';
import getRawBody from 'raw-body';
import { ConsulateError } from '../errors.js';

/**
 * The home API's JSON body reader: the request's bytes joined once into a Buffer (raw-body, which
 * enforces the limit and the declared Content-Length), decoded once and parsed once. A general
 * body parser (co-body) builds the text by string concatenation, keeps a second copy as the raw
 * body and scans it again for `__proto__`; on the submit path, where a request carries thousands
 * of envelopes, those copies were about a third of everything the sending appliance allocated
 * (bench/README.md).
 *
 * `__proto__` needs no scan here: JSON.parse makes it an ordinary own property, and every home API
 * schema is a strict object, so such a key is refused as unknown before any handler sees it.
 *
 * Only `application/json` (and `+json`) bodies of POST, PUT and PATCH are read, UTF-8 with or
 * without a byte order mark; anything else leaves the body undefined, which the handler's schema
 * refuses. Compressed bodies are refused (415 `bad_request`).
 */
export function jsonBody(limitBytes: number): Middleware {
  return async (ctx, next) => {
    if ((ctx.method !== 'POST' && ctx.method !== 'PUT' && ctx.method !== 'PATCH') || !ctx.is('application/json', '+json')) return next();
    const encoding = ctx.get('content-encoding');
    if (encoding && encoding.toLowerCase() !== 'identity')
      throw new ConsulateError('bad_request', `Content-Encoding ${encoding} is not accepted; send the JSON uncompressed`, { status: 415 });
    const declared = ctx.get('content-length');
    let raw: Buffer;
    try {
      // A declared length over the limit is refused before anything is read.
      raw = await getRawBody(ctx.req, { limit: limitBytes, length: declared === '' ? null : declared });
    } catch (error) {
      if ((error as { type?: string }).type === 'entity.too.large')
        throw new ConsulateError('too_large', `request body exceeds ${limitBytes / 1048576} MiB; send fewer envelopes per request`, { status: 413 });
      throw new ConsulateError('bad_request', `request body could not be read: ${(error as Error).message}`);
    }
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
