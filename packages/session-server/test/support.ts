import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { sessionsV1, type LogLevel, type Logger } from "@sessionoffload/offload-api";

/** A plaintext SessionTable client for `127.0.0.1:port`. */
export function sessionClient(port: number): sessionsV1.SessionTableClient {
  return new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** The outcome of a unary call: the response, or the gRPC error. */
export type Outcome = { ok: true; value: sessionsV1.sessionResponse } | { ok: false; error: ServiceError };

type Unary<Req> = (
  request: Req,
  metadata: Metadata,
  callback: (err: ServiceError | null, value?: sessionsV1.sessionResponse) => void,
) => unknown;

/** Calls a unary method and resolves to its outcome (never rejects). */
export function call<Req>(method: Unary<Req>, client: sessionsV1.SessionTableClient, request: Req): Promise<Outcome> {
  return new Promise((resolve) => {
    method.call(client, request, new Metadata(), (err, value) => {
      if (err) resolve({ ok: false, error: err });
      else resolve({ ok: true, value: value as sessionsV1.sessionResponse });
    });
  });
}

/** Calls a unary method and resolves to the response; rejects on a gRPC error. */
export async function ok<Req>(
  method: Unary<Req>,
  client: sessionsV1.SessionTableClient,
  request: Req,
): Promise<sessionsV1.sessionResponse> {
  const outcome = await call(method, client, request);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** A valid TCP/IPv4 forward request; `n` varies the source port. */
export function request(n = 1, overrides: Partial<sessionsV1.sessionRequest> = {}): sessionsV1.sessionRequest {
  return sessionsV1.sessionRequest.fromPartial({
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: sessionsV1.IP_VERSION._IPV4,
    sourceIp: Buffer.from([10, 0, 0, 1]),
    sourcePort: 1024 + n,
    destinationIp: Buffer.from([10, 0, 0, 2]),
    destinationPort: 443,
    protocolId: sessionsV1.PROTOCOL_ID._TCP,
    action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
    ...overrides,
  });
}

/** A logged line. */
export interface LogLine {
  readonly level: LogLevel;
  readonly fields: Record<string, unknown>;
  readonly message: string | undefined;
}

/** A logger that keeps its lines; `debug` says whether debug is enabled. */
export function recordingLogger(debug: boolean): Logger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLevel) =>
    (fields: object, message?: string): void => {
      if (level === "debug" && !debug) throw new Error("debug line built while debug is disabled");
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    isLevelEnabled: (level) => level !== "debug" || debug,
  };
}
