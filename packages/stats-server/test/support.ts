import { credentials, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { sessionsV1, type SessionSpec } from "@sessionoffload/offload-api";

/** A plaintext SessionStatisticsTable client for `127.0.0.1:port`. */
export function statsClient(port: number, address = "127.0.0.1"): sessionsV1.SessionStatisticsTableClient {
  return new sessionsV1.SessionStatisticsTableClient(`${address}:${port}`, credentials.createInsecure());
}

/** A valid TCP/IPv4 spec whose 7-tuple is unique for each `n` in 0..2^32-1. */
export function spec(n: number): SessionSpec {
  return {
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(10, (n >>> 16) & 255, (n >>> 8) & 255, n & 255),
    sourcePort: 1024 + ((n >>> 24) & 255),
    destinationIp: Uint8Array.of(192, 0, 2, 1),
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    nextHop: "",
  };
}

/** Everything a stream delivered, and how it ended. */
export interface Drained {
  readonly messages: sessionsV1.sessionResponse[];
  readonly error: ServiceError | undefined;
}

/** Reads a stream to its end; never rejects. */
export function drain(stream: ClientReadableStream<sessionsV1.sessionResponse>): Promise<Drained> {
  const messages: sessionsV1.sessionResponse[] = [];
  return new Promise((resolve) => {
    stream.on("data", (m: sessionsV1.sessionResponse) => messages.push(m));
    stream.on("error", (error: ServiceError) => resolve({ messages, error }));
    stream.on("end", () => resolve({ messages, error: undefined }));
  });
}

/** Resolves once `predicate()` holds, checking after each turn of the event loop (bounded by jest's timeout). */
export async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setTimeout(r, 5));
}
