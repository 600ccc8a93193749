import {
  ACTION_FROM_WIRE,
  IP_VERSION_FROM_WIRE,
  PROTOCOL_FROM_WIRE,
  formatAddress,
  sessionsV1,
} from "@sessionoffload/offload-api";

const { REQUEST_STATUS } = sessionsV1;

/** The request status of an answer, by the name the typed client gives it. */
const RESULT_NAMES: ReadonlyMap<number, string> = new Map([
  [REQUEST_STATUS._ACCEPTED, "accepted"],
  [REQUEST_STATUS._REJECTED, "rejected"],
  [REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT, "notFound"],
  [REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL, "tableFull"],
  [REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS, "alreadyExists"],
]);

// A domain name for a wire enum value, or the wire name (or number) of one that has none.
function enumName(
  names: ReadonlyMap<number, string>,
  wire: Record<number, string>,
  value: number | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  return names.get(value) ?? wire[value] ?? String(value);
}

// "10.0.0.1:40000", "[2001:db8::1]:443"; malformed bytes as hex, so that the line still says what came.
function endpoint(bytes: Uint8Array, port: number): string {
  let address: string;
  try {
    address = formatAddress(bytes);
  } catch {
    return `0x${Buffer.from(bytes).toString("hex")}:${port}`;
  }
  return bytes.length === 16 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The fields of an addSession request as a person reads them: addresses as
 * text (hex when malformed, as a malformed request is logged too), enums by
 * the library's names (`ipv4`, `tcp`, `forward`).
 */
export function describeAddRequest(request: sessionsV1.sessionRequest): Record<string, unknown> {
  return {
    inLif: request.inLif,
    outLif: request.outLif,
    ipVersion: enumName(IP_VERSION_FROM_WIRE, sessionsV1.IP_VERSION, request.ipVersion),
    source: endpoint(request.sourceIp, request.sourcePort),
    destination: endpoint(request.destinationIp, request.destinationPort),
    protocol: enumName(PROTOCOL_FROM_WIRE, sessionsV1.PROTOCOL_ID, request.protocolId),
    action: enumName(ACTION_FROM_WIRE, sessionsV1.ACTION_TYPE, request.action?.actionType),
    nextHop: request.action?.actionNextHop || undefined,
  };
}

/** The outcome of a SessionTable answer: `result` by the typed client's name, the id as a string. */
export function describeResponse(response: sessionsV1.sessionResponse): Record<string, unknown> {
  return {
    result: enumName(RESULT_NAMES, sessionsV1.REQUEST_STATUS, response.requestStatus),
    sessionId: response.sessionId === 0n ? undefined : String(response.sessionId),
  };
}
