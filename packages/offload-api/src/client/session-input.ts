import { AddressError, parseAddress } from "../address";
import { specToWire } from "../convert";
import type { ActionKind, IpVersion, Protocol, SessionSpec } from "../types";
import { ValidationError, validateSessionRequest } from "../validation";
import type { sessionsV1 } from "../wire";

/**
 * An offload request in the caller's terms: addresses as IPv4 or IPv6 text
 * (both of the same version), ports as numbers, protocol and action as names.
 */
export interface SessionInput {
  /** Source address literal, e.g. "192.0.2.1" or "2001:db8::1". */
  readonly sourceIp: string;
  /** Source port, 1..65535. */
  readonly sourcePort: number;
  /** Destination address literal, the same IP version as `sourceIp`. */
  readonly destinationIp: string;
  /** Destination port, 1..65535. */
  readonly destinationPort: number;
  /** "tcp" or "udp". */
  readonly protocol: Protocol;
  /** What the switch does with the session's packets: "drop", "forward", "mirror" or "snoop". */
  readonly action: ActionKind;
  /** Next hop address literal; required for "mirror" and "snoop". */
  readonly nextHop?: string;
  /** Ingress logical interface (at most 64 UTF-8 bytes, no control characters); default "". */
  readonly inLif?: string;
  /** Egress logical interface (at most 64 UTF-8 bytes, no control characters); default "". */
  readonly outLif?: string;
}

const PROTOCOLS: readonly Protocol[] = ["tcp", "udp"];
const ACTIONS: readonly ActionKind[] = ["drop", "forward", "mirror", "snoop"];

// Wire field names of the shared validator, renamed to the SessionInput field the caller wrote.
const INPUT_FIELD: Readonly<Record<string, string>> = {
  protocolId: "protocol",
  "action.actionType": "action",
  "action.actionNextHop": "nextHop",
};

function address(field: string, text: unknown): { version: IpVersion; bytes: Uint8Array } {
  if (typeof text !== "string") throw new ValidationError(field, `expected address text, got ${typeof text}`);
  try {
    return parseAddress(text);
  } catch (err) {
    if (err instanceof AddressError) throw new ValidationError(field, err.message);
    throw err;
  }
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ValidationError(field, `expected one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${String(value)}`);
}

function text(field: string, value: unknown): string {
  if (value === undefined) return "";
  if (typeof value !== "string") throw new ValidationError(field, `expected a string, got ${typeof value}`);
  return value;
}

/**
 * Converts a `SessionInput` to the wire `sessionRequest` and checks it with the
 * same `validateSessionRequest` the servers run, so that a malformed request
 * never goes on the wire. The IP version is derived from the address text.
 * Throws `ValidationError` naming the input field (`sourceIp`, `destinationIp`,
 * `sourcePort`, `protocol`, `action`, `nextHop`, `inLif`, ...) and the reason.
 */
export function toSessionRequest(input: SessionInput): sessionsV1.sessionRequest {
  const source = address("sourceIp", input.sourceIp);
  const destination = address("destinationIp", input.destinationIp);
  if (source.version !== destination.version) {
    throw new ValidationError(
      "destinationIp",
      `is ${destination.version === "ipv4" ? "IPv4" : "IPv6"} but sourceIp is ${source.version === "ipv4" ? "IPv4" : "IPv6"}`,
    );
  }
  const spec: SessionSpec = {
    inLif: text("inLif", input.inLif),
    outLif: text("outLif", input.outLif),
    ipVersion: source.version,
    sourceIp: source.bytes,
    sourcePort: input.sourcePort,
    destinationIp: destination.bytes,
    destinationPort: input.destinationPort,
    protocol: oneOf("protocol", input.protocol, PROTOCOLS),
    action: oneOf("action", input.action, ACTIONS),
    nextHop: text("nextHop", input.nextHop),
  };
  const request = specToWire(spec);
  try {
    validateSessionRequest(request);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(INPUT_FIELD[err.field] ?? err.field, err.reason);
    throw err;
  }
  return request;
}
