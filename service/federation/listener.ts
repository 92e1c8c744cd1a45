import type { Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { closeServer, listenError } from '../admin/server.js';
import type { Logger } from '../telemetry/logger.js';

export interface TlsMaterial {
  /** Leaf first, then intermediates. */
  certChainPem: string;
  keyPem: string;
}

export interface FederationListenerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Certificate for names without their own (the federation host name). */
  defaultTls: TlsMaterial;
}

/**
 * The public HTTPS listener. Certificates are looked up per connection by SNI, so a
 * replaced certificate applies to the next handshake while established links go on.
 */
export class FederationListener {
  readonly server: Server;
  #default: SecureContext;
  readonly #byName = new Map<string, SecureContext>();
  readonly #logger: Logger;
  #port = 0;

  constructor(options: FederationListenerOptions) {
    this.#logger = options.logger;
    this.#default = createSecureContext({ cert: options.defaultTls.certChainPem, key: options.defaultTls.keyPem });
    this.server = createServer({
      cert: options.defaultTls.certChainPem,
      key: options.defaultTls.keyPem,
      minVersion: 'TLSv1.2',
      SNICallback: (servername, callback) => callback(null, this.#byName.get(servername.toLowerCase()) ?? this.#default),
    });
    this.server.on('request', (req, res) => {
      if (req.url === '/_consulate/v1/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"no such resource"}}');
    });
    this.server.on('tlsClientError', (error) => this.#logger.debug({ err: error }, 'TLS client error'));
  }

  /** Replaces the certificate for a host name, or the default one; takes effect for new connections. */
  setCertificate(tls: TlsMaterial, hostname?: string): void {
    const context = createSecureContext({ cert: tls.certChainPem, key: tls.keyPem });
    if (hostname) this.#byName.set(hostname.toLowerCase(), context);
    else this.#default = context;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) => reject(listenError('federation', host, port, error)));
      this.server.listen(port, host, () => resolve());
    });
    this.#port = (this.server.address() as AddressInfo).port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  close(): Promise<void> {
    return closeServer(this.server as unknown as HttpServer, 1000);
  }
}
