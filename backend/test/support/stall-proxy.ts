/**
 * A TCP proxy in front of a real server that can stall one connection at a
 * chosen command: the chunk that contains a marker, and everything the client
 * sends after it on that connection, is held back (the server never sees it),
 * as a network partition or a paused server would hold it. Or that chunk is
 * answered with an error reply of the test's choosing instead of reaching the
 * server. Other connections and chunks pass untouched. Lets a test put a
 * client exactly in "command in flight, no answer" (or "refused") without
 * racing a SIGSTOP against the client's timing.
 */
import net from 'node:net';

export interface StallProxy {
  port: number;
  /** Stalls the first connection that sends a chunk containing one of `markers`; resolves once it has. */
  stallAt(markers: string[]): Promise<void>;
  /** Answers the first chunk containing one of `markers` with `reply` (RESP, e.g. `-READONLY ...\r\n`); resolves once it has. */
  refuseAt(markers: string[], reply: string): Promise<void>;
  close(): Promise<void>;
}

export async function startStallProxy(targetPort: number): Promise<StallProxy> {
  const sockets = new Set<net.Socket>();
  let armed: { markers: Buffer[]; reply?: string; hit: () => void } | undefined;

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let stalled = false;
    client.on('data', (chunk: Buffer) => {
      if (!stalled && armed && armed.markers.some((marker) => chunk.includes(marker))) {
        const { reply, hit } = armed;
        armed = undefined;
        hit();
        if (reply === undefined) stalled = true;
        else return void client.write(reply);
      }
      if (!stalled) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as net.AddressInfo).port,
    stallAt: (markers) => new Promise<void>((resolve) => (armed = { markers: markers.map((marker) => Buffer.from(marker)), hit: resolve })),
    refuseAt: (markers, reply) => new Promise<void>((resolve) => (armed = { markers: markers.map((marker) => Buffer.from(marker)), reply, hit: resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
