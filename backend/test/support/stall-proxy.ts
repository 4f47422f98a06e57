/**
 * A TCP proxy in front of a real server that can stall one connection at a
 * chosen command: the chunk that contains a marker, and everything the client
 * sends after it on that connection, is held back (the server never sees it),
 * as a network partition or a paused server would hold it. Other connections
 * pass untouched. Lets a test put a client exactly in "command in flight,
 * no answer" without racing a SIGSTOP against the client's timing.
 */
import net from 'node:net';

export interface StallProxy {
  port: number;
  /** Stalls the first connection that sends a chunk containing one of `markers`; resolves once it has. */
  stallAt(markers: string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startStallProxy(targetPort: number): Promise<StallProxy> {
  const sockets = new Set<net.Socket>();
  let armed: { markers: Buffer[]; stalled: () => void } | undefined;

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let stalled = false;
    client.on('data', (chunk: Buffer) => {
      if (!stalled && armed && armed.markers.some((marker) => chunk.includes(marker))) {
        stalled = true;
        const { stalled: notify } = armed;
        armed = undefined;
        notify();
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
    stallAt: (markers) => new Promise<void>((resolve) => (armed = { markers: markers.map((marker) => Buffer.from(marker)), stalled: resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
