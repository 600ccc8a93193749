import { parseAddress, AddressError } from "./address";
import { ACTION_FROM_WIRE, IP_VERSION_FROM_WIRE, PROTOCOL_FROM_WIRE } from "./enums";
import type { ActionKind, IpVersion, Protocol, SessionSpec } from "./types";
import { sessionsV1 } from "./wire";

/** Longest accepted inLif/outLif, in UTF-8 bytes. */
export const MAX_LIF_BYTES = 64;

/**
 * A malformed offload request: `field` names the offending wire field (dotted
 * for nested ones, e.g. `action.actionNextHop`) and `reason` says what is wrong.
 */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

// C0 controls, DEL and C1 controls.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

function checkLif(field: string, value: string): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no count.
  if (value.length > MAX_LIF_BYTES / 3 && Buffer.byteLength(value, "utf8") > MAX_LIF_BYTES) {
    throw new ValidationError(field, `longer than ${MAX_LIF_BYTES} bytes`);
  }
  if (CONTROL_CHARS.test(value)) {
    throw new ValidationError(field, "holds control characters");
  }
  return value;
}

function checkPort(field: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(field, `port ${port} is outside 1..65535`);
  }
  return port;
}

function checkAddress(field: string, version: IpVersion, bytes: Uint8Array): Uint8Array {
  const want = version === "ipv4" ? 4 : 16;
  if (bytes.length !== want) {
    const name = version === "ipv4" ? "_IPV4" : "_IPV6";
    throw new ValidationError(field, `${name} needs ${want} address bytes, got ${bytes.length}`);
  }
  return bytes;
}

function checkEnum<T>(field: string, table: ReadonlyMap<number, T>, value: number, what: string): T {
  const name = table.get(value);
  if (name === undefined) throw new ValidationError(field, `unknown ${what} ${value}`);
  return name;
}

function checkProtocol(value: number): Protocol {
  const name = PROTOCOL_FROM_WIRE.get(value);
  if (name !== undefined) return name;
  if (value === sessionsV1.PROTOCOL_ID._HOPOPT) {
    throw new ValidationError("protocolId", "only _TCP (6) and _UDP (17) sessions can be offloaded, got _HOPOPT (0)");
  }
  throw new ValidationError("protocolId", `unknown PROTOCOL_ID ${value}; only _TCP (6) and _UDP (17) are offloadable`);
}

function checkNextHop(action: ActionKind, nextHop: string): string {
  if (nextHop === "") {
    if (action === "mirror" || action === "snoop") {
      throw new ValidationError("action.actionNextHop", `required for ${action === "mirror" ? "_MIRROR" : "_SNOOP"}`);
    }
    return "";
  }
  try {
    parseAddress(nextHop);
  } catch (err) {
    if (err instanceof AddressError) throw new ValidationError("action.actionNextHop", err.message);
    throw err;
  }
  return nextHop;
}

/**
 * Validates a decoded wire `sessionRequest` and converts it to a `SessionSpec`.
 * An absent `action` is the proto3 default, `_DROP` with no next hop.
 * Throws `ValidationError` naming the first malformed field; never partially applies anything.
 * The returned spec shares the request's address buffers: a backend that keeps them must copy.
 */
export function validateSessionRequest(request: sessionsV1.sessionRequest): SessionSpec {
  const ipVersion = checkEnum("ipVersion", IP_VERSION_FROM_WIRE, request.ipVersion, "IP_VERSION");
  const action = checkEnum(
    "action.actionType",
    ACTION_FROM_WIRE,
    request.action?.actionType ?? sessionsV1.ACTION_TYPE._DROP,
    "ACTION_TYPE",
  );
  return {
    inLif: checkLif("inLif", request.inLif),
    outLif: checkLif("outLif", request.outLif),
    ipVersion,
    sourceIp: checkAddress("sourceIp", ipVersion, request.sourceIp),
    sourcePort: checkPort("sourcePort", request.sourcePort),
    destinationIp: checkAddress("destinationIp", ipVersion, request.destinationIp),
    destinationPort: checkPort("destinationPort", request.destinationPort),
    protocol: checkProtocol(request.protocolId),
    action,
    nextHop: checkNextHop(action, request.action?.actionNextHop ?? ""),
  };
}
