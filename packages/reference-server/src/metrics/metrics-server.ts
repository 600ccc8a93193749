import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createSilentLogger, type Logger } from "@sessionoffload/offload-api";
import { Registry } from "prom-client";

/** Options of `createMetricsServer`. */
export interface MetricsServerOptions {
  /** Text of the metrics, in the Prometheus text format (version 0.0.4), built for each scrape. */
  readonly collect: () => Promise<string>;
  /** Where a failed scrape is reported; default silent. */
  readonly logger?: Logger;
  /** Most connections at once; default 32 (Prometheus keeps one per target). */
  readonly maxConnections?: number;
}

/** A plain-HTTP server of `GET /metrics`. */
export interface MetricsServer {
  /** Binds `host:port` (port 0 = any free port) and resolves to the bound port; rejects with the bind error. */
  listen(host: string, port: number): Promise<number>;
  /** Stops listening and closes every connection; idempotent. */
  close(): Promise<void>;
}

function answer(res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "content-type": "text/plain; charset=utf-8", ...headers });
  res.end(body);
}

/**
 * Makes the `/metrics` endpoint: `GET /metrics` (or `HEAD`) answers the text
 * of `collect()`; `/` says where the metrics are; anything else is 404, other
 * methods 405. Slow or idle clients are cut off after a few seconds, and
 * connections are capped, so a hostile client cannot hold the server.
 */
export function createMetricsServer(options: MetricsServerOptions): MetricsServer {
  const logger = options.logger ?? createSilentLogger();
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 });
  server.maxConnections = options.maxConnections ?? 32;
  server.maxHeadersCount = 64;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      return answer(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    if (path === "/") return answer(res, 200, "offload-server: metrics at /metrics\n");
    if (path !== "/metrics") return answer(res, 404, "not found; the metrics are at /metrics\n");
    let text: string;
    try {
      text = await options.collect();
    } catch (err) {
      logger.error({ err }, "metrics: scrape failed");
      return answer(res, 500, "scrape failed; see the server's log\n");
    }
    res.writeHead(200, { "content-type": Registry.PROMETHEUS_CONTENT_TYPE });
    res.end(req.method === "HEAD" ? undefined : text);
  }

  server.on("request", (req: IncomingMessage, res: ServerResponse) => void handle(req, res));
  let closing: Promise<void> | undefined;

  return {
    listen(host, port) {
      return new Promise<number>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once("error", onError);
        server.listen({ host, port }, () => {
          server.off("error", onError);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
