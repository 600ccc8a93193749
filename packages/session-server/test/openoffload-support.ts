import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { openoffloadV1 } from "@sessionoffload/offload-api";

/** A plaintext openoffload.v1 SessionTable client for `127.0.0.1:port`. */
export function openOffloadClient(port: number): openoffloadV1.SessionTableClient {
  return new openoffloadV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** The outcome of a call: the response, or the gRPC error. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ServiceError };

/** Sends `requests` on one addSession stream and resolves to the answer (never rejects). */
export function addBatch(
  client: openoffloadV1.SessionTableClient,
  requests: readonly openoffloadV1.sessionRequest[],
): Promise<Outcome<openoffloadV1.addSessionResponse>> {
  return new Promise((resolve) => {
    const stream = client.addSession((err, value) => {
      if (err) resolve({ ok: false, error: err });
      else resolve({ ok: true, value: value as openoffloadV1.addSessionResponse });
    });
    for (const r of requests) stream.write(r);
    stream.end();
  });
}

/** Calls getSession, deleteSession or getAllSessions and resolves to its outcome (never rejects). */
export function unary(
  client: openoffloadV1.SessionTableClient,
  method: "getSession" | "deleteSession",
  sessionId: bigint,
): Promise<Outcome<openoffloadV1.sessionResponse>>;
export function unary(
  client: openoffloadV1.SessionTableClient,
  method: "getAllSessions",
  args: Partial<openoffloadV1.sessionRequestArgs>,
): Promise<Outcome<openoffloadV1.sessionResponses>>;
export function unary(
  client: openoffloadV1.SessionTableClient,
  method: "getSession" | "deleteSession" | "getAllSessions",
  arg: bigint | Partial<openoffloadV1.sessionRequestArgs>,
): Promise<Outcome<openoffloadV1.sessionResponse | openoffloadV1.sessionResponses>> {
  return new Promise((resolve) => {
    const done = (err: ServiceError | null, value?: openoffloadV1.sessionResponse | openoffloadV1.sessionResponses) => {
      if (err) resolve({ ok: false, error: err });
      else if (value !== undefined) resolve({ ok: true, value });
    };
    if (method === "getAllSessions") {
      client.getAllSessions(openoffloadV1.sessionRequestArgs.fromPartial(arg as object), new Metadata(), done);
    } else {
      client[method]({ sessionId: arg as bigint }, new Metadata(), done);
    }
  });
}

/** Reads a getClosedSessions stream to its end: the messages, and the error if it ended with one. */
export function closed(
  client: openoffloadV1.SessionTableClient,
  pageSize: number,
): Promise<{ sessions: openoffloadV1.sessionResponse[]; error: ServiceError | undefined }> {
  return new Promise((resolve) => {
    const sessions: openoffloadV1.sessionResponse[] = [];
    const stream = client.getClosedSessions(openoffloadV1.sessionRequestArgs.fromPartial({ pageSize }));
    stream.on("data", (m: openoffloadV1.sessionResponse) => sessions.push(m));
    stream.on("error", (error: ServiceError) => resolve({ sessions, error }));
    stream.on("end", () => resolve({ sessions, error: undefined }));
  });
}

/** `a.b.c.d` as openoffload.v1 sends it: `struct in_addr.s_addr` read little-endian. */
export function inAddr(a: number, b: number, c: number, d: number): number {
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}

/** A valid TCP/IPv4 forward session with client id `id`; `n` varies the source port (default: from the id). */
export function ooRequest(
  id: bigint,
  overrides: Partial<openoffloadV1.sessionRequest> = {},
  n = Number(id % 60000n),
): openoffloadV1.sessionRequest {
  return openoffloadV1.sessionRequest.fromPartial({
    sessionId: id,
    inLif: 1,
    outLif: 2,
    ipVersion: openoffloadV1.IP_VERSION._IPV4,
    sourceIp: inAddr(10, 0, 0, 1),
    sourcePort: 1024 + n,
    destinationIp: inAddr(10, 0, 0, 2),
    destinationPort: 443,
    protocolId: openoffloadV1.PROTOCOL_ID._TCP,
    action: { actionType: openoffloadV1.ACTION_TYPE._FORWARD },
    ...overrides,
  });
}
