import { formatAddress } from "../address";
import { UINT64_MAX, type ActionKind, type IpVersion, type Protocol, type SessionSpec } from "../types";
import { ValidationError } from "../validation";
import { openoffloadV1 } from "../wire";
import { ipv4FromInAddr } from "./in-addr";

const { ACTION_TYPE, IP_VERSION, PROTOCOL_ID } = openoffloadV1;

/** A validated openoffload.v1 `sessionRequest`: the id the client assigned and the session. */
export interface OpenOffloadSessionSpec {
  /** The client-assigned id, 1..2^64-1. */
  readonly id: bigint;
  /** The session; `inLif`/`outLif` are the decimal text of the int32 LIFs, `idleTimeoutMs` is `cacheTimeout` * 1000. */
  readonly spec: SessionSpec;
}

const IP_VERSIONS: ReadonlyMap<number, IpVersion> = new Map([
  [IP_VERSION._IPV4, "ipv4"],
  [IP_VERSION._IPV6, "ipv6"],
]);
const PROTOCOLS: ReadonlyMap<number, Protocol> = new Map([
  [PROTOCOL_ID._TCP, "tcp"],
  [PROTOCOL_ID._UDP, "udp"],
]);
const ACTIONS: ReadonlyMap<number, ActionKind> = new Map([
  [ACTION_TYPE._DROP, "drop"],
  [ACTION_TYPE._FORWARD, "forward"],
  [ACTION_TYPE._MIRROR, "mirror"],
  [ACTION_TYPE._SNOOP, "snoop"],
]);

function checkPort(field: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(field, `port ${port} is outside 1..65535`);
  }
  return port;
}

function checkV6(field: string, bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 16) throw new ValidationError(field, `_IPV6 needs 16 address bytes, got ${bytes.length}`);
  return bytes;
}

function address(version: IpVersion, v4: number, v6: Uint8Array, v6Field: string): Uint8Array {
  return version === "ipv4" ? ipv4FromInAddr(v4) : checkV6(v6Field, v6);
}

function checkProtocol(value: number): Protocol {
  const name = PROTOCOLS.get(value);
  if (name !== undefined) return name;
  if (value === PROTOCOL_ID._HOPOPT) {
    throw new ValidationError("protocolId", "only _TCP (6) and _UDP (17) sessions can be offloaded, got _HOPOPT (0)");
  }
  throw new ValidationError("protocolId", `unknown PROTOCOL_ID ${value}; only _TCP (6) and _UDP (17) are offloadable`);
}

/** The next hop as address text, or "": the 16-byte IPv6 field if set, else the IPv4 field if not 0. */
function nextHop(action: ActionKind, params: openoffloadV1.actionParameters | undefined): string {
  const v6 = params?.actionNextHopV6 ?? new Uint8Array(0);
  const v4 = params?.actionNextHop ?? 0;
  if (v6.length !== 0) {
    if (v6.length !== 16) {
      throw new ValidationError("action.actionNextHopV6", `an IPv6 next hop has 16 bytes, got ${v6.length}`);
    }
    return formatAddress(v6);
  }
  if (v4 !== 0) return formatAddress(ipv4FromInAddr(v4));
  if (action === "mirror" || action === "snoop") {
    throw new ValidationError(
      "action.actionNextHop",
      `required for ${action === "mirror" ? "_MIRROR" : "_SNOOP"} (actionNextHop for IPv4, actionNextHopV6 for IPv6)`,
    );
  }
  return "";
}

/**
 * Validates a decoded openoffload.v1 `sessionRequest` and converts it to a
 * `SessionSpec` and its client-assigned id. The rules are the first
 * generation's (ports 1..65535, only _TCP and _UDP, known enum numbers, a
 * next hop for _MIRROR and _SNOOP) plus: `sessionId` in 1..2^64-1 (the client
 * assigns it); `ipVersion` chooses the address fields (IPv4 in the uint32
 * fields as `struct in_addr.s_addr`, IPv6 16 bytes in the `...V6` fields; the
 * other version's fields are ignored); a next hop is `actionNextHopV6` when
 * set (16 bytes), else `actionNextHop` when not 0 (either version, as in the
 * first generation). Every int32 LIF and uint32 `cacheTimeout` is valid.
 * Throws `ValidationError` naming the first malformed field; the spec shares
 * the request's IPv6 buffers.
 */
export function validateOpenOffloadRequest(request: openoffloadV1.sessionRequest): OpenOffloadSessionSpec {
  const id = request.sessionId;
  if (id < 1n || id > UINT64_MAX) {
    throw new ValidationError("sessionId", "must be in 1..2^64-1 (the client assigns the id), got 0");
  }
  const ipVersion = IP_VERSIONS.get(request.ipVersion);
  if (ipVersion === undefined) throw new ValidationError("ipVersion", `unknown IP_VERSION ${request.ipVersion}`);
  const actionNumber = request.action?.actionType ?? ACTION_TYPE._DROP;
  const action = ACTIONS.get(actionNumber);
  if (action === undefined) throw new ValidationError("action.actionType", `unknown ACTION_TYPE ${actionNumber}`);
  const spec: SessionSpec = {
    inLif: String(request.inLif),
    outLif: String(request.outLif),
    ipVersion,
    sourceIp: address(ipVersion, request.sourceIp, request.sourceIpV6, "sourceIpV6"),
    sourcePort: checkPort("sourcePort", request.sourcePort),
    destinationIp: address(ipVersion, request.destinationIp, request.destinationIpV6, "destinationIpV6"),
    destinationPort: checkPort("destinationPort", request.destinationPort),
    protocol: checkProtocol(request.protocolId),
    action,
    nextHop: nextHop(action, request.action),
    idleTimeoutMs: request.cacheTimeout * 1000,
  };
  return { id, spec };
}
