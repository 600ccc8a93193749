import { AddressError, parseAddress } from "../address";
import { openOffloadSpecToWire } from "../openoffload/openoffload-convert";
import { validateOpenOffloadRequest } from "../openoffload/openoffload-validation";
import { UINT64_MAX, type ActionKind, type IpVersion, type Protocol, type SessionSpec } from "../types";
import { ValidationError } from "../validation";
import type { openoffloadV1 } from "../wire";

/**
 * A second-generation (openoffload.v1) offload request in the caller's terms:
 * the id the caller assigns, addresses as IPv4 or IPv6 text (both of the same
 * version), LIFs as int32 numbers, the idle timeout in seconds.
 */
export interface OpenOffloadSessionInput {
  /** The session's id, chosen by the caller: 1..2^64-1, not in the table. */
  readonly id: bigint;
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
  /** "drop", "forward", "mirror" or "snoop". */
  readonly action: ActionKind;
  /** Next hop address literal (either IP version); required for "mirror" and "snoop". */
  readonly nextHop?: string;
  /** Ingress logical interface, an int32; default 0. */
  readonly inLif?: number;
  /** Egress logical interface, an int32; default 0. */
  readonly outLif?: number;
  /** The session's idle timeout in whole seconds (`cacheTimeout`, 0..2^32-1); default 0: the switch's default. */
  readonly idleTimeoutSeconds?: number;
}

const PROTOCOLS: readonly Protocol[] = ["tcp", "udp"];
const ACTIONS: readonly ActionKind[] = ["drop", "forward", "mirror", "snoop"];

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

function integer(field: string, value: unknown, min: number, max: number): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(field, `expected an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

// Wire field names of the server's validator, renamed to the input field the caller wrote.
const INPUT_FIELD: Readonly<Record<string, string>> = {
  sessionId: "id",
  protocolId: "protocol",
  "action.actionType": "action",
  "action.actionNextHop": "nextHop",
  "action.actionNextHopV6": "nextHop",
};

/**
 * Converts an `OpenOffloadSessionInput` to the wire `sessionRequest` and checks
 * it with the servers' own `validateOpenOffloadRequest`, so that a malformed
 * session never goes on the wire. Throws `ValidationError` naming the input
 * field (`id`, `sourceIp`, `sourcePort`, `protocol`, `nextHop`, `inLif`, ...).
 */
export function toOpenOffloadRequest(input: OpenOffloadSessionInput): openoffloadV1.sessionRequest {
  if (typeof input.id !== "bigint" || input.id < 1n || input.id > UINT64_MAX) {
    throw new ValidationError("id", `must be a bigint in 1..2^64-1, got ${String(input.id)}`);
  }
  const source = address("sourceIp", input.sourceIp);
  const destination = address("destinationIp", input.destinationIp);
  if (source.version !== destination.version) {
    throw new ValidationError("destinationIp", `is ${destination.version} but sourceIp is ${source.version}`);
  }
  if (input.nextHop !== undefined && typeof input.nextHop !== "string") {
    throw new ValidationError("nextHop", `expected address text, got ${typeof input.nextHop}`);
  }
  const nextHop = input.nextHop ?? "";
  if (nextHop !== "") address("nextHop", nextHop);
  const spec: SessionSpec = {
    inLif: String(integer("inLif", input.inLif, -(2 ** 31), 2 ** 31 - 1)),
    outLif: String(integer("outLif", input.outLif, -(2 ** 31), 2 ** 31 - 1)),
    ipVersion: source.version,
    sourceIp: source.bytes,
    sourcePort: input.sourcePort,
    destinationIp: destination.bytes,
    destinationPort: input.destinationPort,
    protocol: oneOf("protocol", input.protocol, PROTOCOLS),
    action: oneOf("action", input.action, ACTIONS),
    nextHop,
    idleTimeoutMs: integer("idleTimeoutSeconds", input.idleTimeoutSeconds, 0, 0xffff_ffff) * 1000,
  };
  const request = openOffloadSpecToWire(input.id, spec);
  try {
    validateOpenOffloadRequest(request);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(INPUT_FIELD[err.field] ?? err.field, err.reason);
    throw err;
  }
  return request;
}
