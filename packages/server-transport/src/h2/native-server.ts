import { createServer as createPlainServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TlsOptions, type TLSSocket } from "node:tls";
import { NativeConnection, type NativeStreamListener, type UnaryRouter } from "./native-connection";

/** Options of `createNativeServer`. */
export interface NativeServerOptions {
  /** TLS options (certificate, key, CA, client certificates); absent for plaintext (h2c with prior knowledge). */
  readonly tls?: TlsOptions;
  /** Gets every request stream of every connection. */
  readonly onStream: NativeStreamListener;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection; default none. */
  readonly maxConcurrentStreams?: number;
  /** Takes requests served as native unary calls before `onStream`. */
  readonly unary?: UnaryRouter;
}

/** The native HTTP/2 listener(s) of one gRPC server. */
export interface NativeServer {
  /** Listens on `host`:`port` (0 = any free port); resolves to the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops listening and sends GOAWAY on every connection; resolves when all of them have closed. */
  goAway(): Promise<void>;
  /** Closes every connection at once: their streams end with CANCEL. */
  destroy(): void;
  /** Open connections. */
  readonly connectionCount: number;
}

/**
 * Creates the native transport's server: plain TCP or TLS listeners whose
 * connections are served by `NativeConnection`. With TLS, ALPN offers h2
 * only; a client that negotiates anything else is disconnected.
 */
export function createNativeServer(options: NativeServerOptions): NativeServer {
  const listeners: NetServer[] = [];
  const connections = new Set<NativeConnection>();
  const idleWaiters: (() => void)[] = [];
  let stopping = false;

  const settleIdle = (): void => {
    if (connections.size > 0) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };
  const accept = (socket: Socket): void => {
    if (stopping) {
      socket.destroy();
      return;
    }
    const connection = new NativeConnection(socket, {
      onStream: options.onStream,
      maxConcurrentStreams: options.maxConcurrentStreams,
      unary: options.unary,
      onClose: () => {
        connections.delete(connection);
        if (stopping) settleIdle();
      },
    });
    connections.add(connection);
  };
  const newListener = (): NetServer => {
    const tls = options.tls;
    if (tls === undefined) return createPlainServer(accept);
    const server = createTlsServer({ ...tls, ALPNProtocols: ["h2"] }, (socket: TLSSocket) => {
      if (socket.alpnProtocol !== "h2") socket.destroy();
      else accept(socket);
    });
    server.on("tlsClientError", () => undefined); // a failed handshake concerns that client only
    return server;
  };

  return {
    get connectionCount() {
      return connections.size;
    },
    listen(host, port) {
      const server = newListener();
      return new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port }, () => {
          server.off("error", reject);
          server.on("error", () => undefined);
          listeners.push(server);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    goAway() {
      stopping = true;
      for (const server of listeners) server.close();
      for (const connection of [...connections]) connection.goAway();
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
    destroy() {
      stopping = true;
      for (const server of listeners) server.close();
      for (const connection of [...connections]) connection.destroy();
      connections.clear();
      settleIdle();
    },
  };
}
