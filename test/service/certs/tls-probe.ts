import { connect, type TLSSocket } from 'node:tls';

export interface ServedCertificate {
  fingerprint256: string;
  serialNumber: string;
  subject: string;
}

/** Opens a fresh TLS connection (no session reuse) and reports the certificate the server sent. */
export function servedCertificate(port: number, servername?: string): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      const cn = cert.subject?.CN;
      resolve({ fingerprint256: cert.fingerprint256, serialNumber: cert.serialNumber.toUpperCase(), subject: Array.isArray(cn) ? cn.join(', ') : (cn ?? '') });
    });
    socket.once('error', reject);
  });
}

/** An established connection that can make HTTP/1.1 keep-alive requests, to show it outlives a certificate swap. */
export async function openConnection(port: number, servername: string): Promise<{ socket: TLSSocket; get(path: string): Promise<string>; close(): void }> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  return {
    socket,
    get: (path) =>
      new Promise((resolve, reject) => {
        let text = '';
        const onData = (chunk: Buffer): void => {
          text += chunk.toString();
          const [head, body = ''] = text.split('\r\n\r\n');
          const length = Number(/content-length: (\d+)/i.exec(head ?? '')?.[1] ?? -1);
          const complete = length >= 0 ? Buffer.byteLength(body) >= length : /\r\n0\r\n\r\n$/.test(text);
          if (complete) {
            socket.off('data', onData);
            resolve(text);
          }
        };
        socket.on('data', onData);
        socket.once('error', reject);
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: keep-alive\r\n\r\n`);
      }),
    close: () => socket.destroy(),
  };
}
