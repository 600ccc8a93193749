import { createServer as createPlainServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TlsOptions, type TLSSocket } from "node:tls";
import { resolveTransportLimits, type TransportLimits } from "../limits";
import { TransportCounters } from "../transport-stats";
import { ErrorCode, goawayFrame, settingsFrame } from "./frames";
import { NativeConnection, type NativeStreamListener, type UnaryRouter } from "./native-connection";

// RFC 9113 9.2.2: over TLS 1.2, HTTP/2 uses no cipher suite of its Appendix A (CBC modes, static RSA key exchange):
// ephemeral key exchange with an AEAD only, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (which every HTTP/2 client
// supports, 9.2.2) among them; TLS 1.3's suites as Node's defaults. Credentials that name their own ciphers keep them.
const H2_CIPHERS = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
].join(":");

/** Options of `createNativeServer`. */
export interface NativeServerOptions {
  /** TLS options (certificate, key, CA, client certificates); absent for plaintext (h2c with prior knowledge). */
  readonly tls?: TlsOptions;
  /** Gets every request stream of every connection. */
  readonly onStream: NativeStreamListener;
  /** What one client may take (defaults: `DEFAULT_TRANSPORT_LIMITS`). */
  readonly limits?: TransportLimits;
  /** Where connections count what they sent and refused; default a new one (see `NativeServer.counters`). */
  readonly counters?: TransportCounters;
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
  /** What the server's connections sent and refused so far. */
  readonly counters: TransportCounters;
}

// How often connection timers are checked: a quarter of the shortest timeout, within 5 ms..1 s.
function sweepInterval(limits: TransportLimits): number {
  const timeouts = [limits.prefaceTimeoutMs, limits.keepaliveTimeoutMs];
  if (limits.idleTimeoutMs > 0) timeouts.push(limits.idleTimeoutMs);
  if (limits.keepaliveIntervalMs > 0) timeouts.push(limits.keepaliveIntervalMs);
  return Math.min(1000, Math.max(5, Math.floor(Math.min(...timeouts) / 4)));
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
  const limits = options.limits ?? resolveTransportLimits();
  const counters = options.counters ?? new TransportCounters();
  let stopping = false;
  let sweep: NodeJS.Timeout | undefined;
  const startSweep = (): void => {
    sweep ??= setInterval(() => {
      const now = Date.now();
      for (const connection of connections) connection.checkTimers(now);
    }, sweepInterval(limits));
    sweep.unref();
  };
  const stopSweep = (): void => {
    if (sweep !== undefined) clearInterval(sweep);
    sweep = undefined;
  };

  const settleIdle = (): void => {
    if (connections.size > 0) return;
    stopSweep();
    for (const resolve of idleWaiters.splice(0)) resolve();
  };
  // At the cap, a connection that has not finished its preface and first SETTINGS yet (the oldest) is ended to
  // make room: a peer that holds connections open without speaking HTTP/2 cannot lock the others out until its
  // preface timeout. One that has started is never ended for a newcomer. True when one was ended.
  const shedOneNotStarted = (): boolean => {
    for (const connection of connections) {
      if (connection.started) continue;
      counters.rejected += 1;
      counters.limitHit("connections");
      connection.shed("too many connections: this one sent no preface");
      return true;
    }
    return false;
  };
  // Over the server's budget of held request bytes: the connection holding the most is shed (GOAWAY
  // ENHANCE_YOUR_CALM; closing lets go of what it held), then the next, until the sum is within the budget. A
  // connection whose requests are consumed as they come holds next to nothing and is never the largest for long.
  const shedLargestHolders = (): void => {
    while (counters.heldRequestBytes > limits.maxHeldRequestBytes) {
      let largest: NativeConnection | undefined;
      for (const connection of connections) {
        if (largest === undefined || connection.heldBytes > largest.heldBytes) largest = connection;
      }
      if (largest === undefined || largest.heldBytes === 0) return;
      counters.limitHit("heldRequestBytes");
      largest.shed("too many request bytes held");
    }
  };
  const accept = (socket: Socket): void => {
    if (stopping) {
      socket.destroy();
      return;
    }
    if (connections.size >= limits.maxConnections && !shedOneNotStarted()) {
      counters.rejected += 1;
      counters.limitHit("connections");
      counters.goawaySent(ErrorCode.ENHANCE_YOUR_CALM);
      socket.on("error", () => undefined);
      socket.end(
        Buffer.concat([settingsFrame([]), goawayFrame(0, ErrorCode.ENHANCE_YOUR_CALM, "too many connections")]),
      );
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    counters.accepted += 1;
    counters.open += 1;
    const connection = new NativeConnection(socket, {
      onStream: options.onStream,
      limits,
      counters,
      unary: options.unary,
      onOverBudget: shedLargestHolders,
      onClose: () => {
        counters.open -= 1;
        connections.delete(connection);
        if (stopping) settleIdle();
      },
    });
    connections.add(connection);
  };
  const newListener = (): NetServer => {
    const tls = options.tls;
    if (tls === undefined) return createPlainServer(accept);
    const server = createTlsServer({ ciphers: H2_CIPHERS, ...tls, ALPNProtocols: ["h2"] }, (socket: TLSSocket) => {
      if (socket.alpnProtocol !== "h2") {
        socket.destroy();
        return;
      }
      // RFC 9113 9.2.1: "An endpoint MUST treat a TLS renegotiation as a connection error" (TLS 1.2; Node would
      // take a few). Node reports an attempt as an 'error' on the socket, which stays open: it is closed here.
      socket.disableRenegotiation();
      socket.on("error", () => socket.destroy());
      accept(socket);
    });
    server.on("tlsClientError", () => undefined); // a failed handshake concerns that client only
    return server;
  };

  return {
    get connectionCount() {
      return connections.size;
    },
    counters,
    listen(host, port) {
      const server = newListener();
      return new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port }, () => {
          startSweep();
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
      counters.open = 0;
      settleIdle();
      stopSweep();
    },
  };
}
