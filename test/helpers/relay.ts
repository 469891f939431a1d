import { createServer, Socket as NetSocket, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A TCP relay to the real Redis that a test can cut and restore: "Redis down" without touching Redis. */
export async function startRelay(target: URL, defaultPort = 6379): Promise<{ url: string; cut(): void; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      const srv = createServer((client) => {
        const upstream = new NetSocket();
        upstream.connect(Number(target.port || defaultPort), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server = srv;
      srv.listen(port, '127.0.0.1', () => {
        port = (srv.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  const cut = () => {
    server?.close();
    for (const s of sockets) s.destroy();
  };
  return { url: `redis://127.0.0.1:${port}`, cut, restore: listen, close: async () => cut() };
}

