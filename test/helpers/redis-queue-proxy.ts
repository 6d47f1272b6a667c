/**
 * A TCP proxy in front of a test redis-server that can lose a reply: armed with a marker, it
 * forwards the next client command containing the marker to Redis (which runs it) and then
 * closes the client's connection instead of forwarding the reply. The client sees a dropped
 * connection after a command that did run - the case a resend must not double (ioredis resends
 * unanswered commands after reconnecting). Used by test/95-redis-queue-faults.ts.
 */
import * as net from 'node:net';

export interface ReplyDropper {
  port: number;
  /** Drops the reply to the next command whose bytes contain `marker`; resolves once it did. */
  dropReplyTo(marker: string): Promise<void>;
  close(): Promise<void>;
}

export async function replyDropper(redisPort: number): Promise<ReplyDropper> {
  let armed: { marker: string; resolve: () => void } | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let dropNext: (() => void) | null = null;
    client.on('data', (d) => {
      if (armed !== null && d.includes(armed.marker)) {
        dropNext = armed.resolve;
        armed = null;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (dropNext !== null) {
        const done = dropNext;
        dropNext = null;
        client.destroy();
        upstream.destroy();
        done();
        return;
      }
      client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    dropReplyTo: (marker) => new Promise<void>((resolve) => (armed = { marker, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
