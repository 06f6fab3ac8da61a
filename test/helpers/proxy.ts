import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to the database. While `broken`, a connection made before is closed as soon as the
 * client sends on it, and a new one is accepted but never read or answered, even after the
 * proxy mends: the server went away, and a connection made meanwhile hangs.
 */
export class BrokenProxy {
  broken = false;
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  /** Listens on 127.0.0.1:port (0: a free one) and forwards to target. */
  async start(target: URL, port = 0): Promise<void> {
    this.server = createServer((client) => {
      this.track(client);
      if (this.broken) return; // read nothing, answer nothing
      const upstream = this.track(connect({ host: target.hostname, port: Number(target.port || 27017) }));
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.on('data', (chunk) => {
        if (this.broken) client.destroy();
        else upstream.write(chunk);
      });
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    return socket.on('error', () => undefined).on('close', () => this.sockets.delete(socket));
  }
}

/** A loopback port nothing listens on (free when asked). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
