import { connect, createServer, type Server, type Socket } from 'node:net';

/** Listens on a free port of 127.0.0.1; returns the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

export interface TcpRelay {
  server: Server;
  /** Holds back every byte both ways, connections kept open (new ones still accepted): a SIGSTOPped server. */
  freeze(): void;
  thaw(): void;
  /**
   * While down, every connection is closed as soon as it is accepted: a server that is not up yet, on a port the relay
   * already holds (reserving a free port and listening on it later races with other tests for that port).
   */
  down(): void;
  up(): void;
  /** Destroys the relayed connections and stops listening. */
  close(): Promise<void>;
}

/**
 * A TCP relay to `host:port` (not yet listening: call `listen(relay.server)`) that can be frozen, as a SIGSTOPped
 * server looks to its clients, and whose every chunk from the server can be delayed by `delayMs` (in order): a busy
 * server whose answers come, late.
 */
export function tcpRelay(port: number, host = '127.0.0.1', options: { delayMs?: number } = {}): TcpRelay {
  let frozen = false;
  const sockets = new Set<Socket>();
  let isDown = false;
  const server = createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    client.on('data', (d) => frozen || upstream.write(d));
    upstream.on('data', (d) => {
      if (frozen) return;
      if (options.delayMs) setTimeout(() => client.destroyed || client.write(d), options.delayMs);
      else client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return {
    server,
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    down: () => void (isDown = true),
    up: () => void (isDown = false),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
