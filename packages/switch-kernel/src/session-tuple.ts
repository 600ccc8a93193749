import { ValidationError, formatAddress, parseAddress, type SessionSpec } from "@sessionoffload/offload-api";
import type { ConntrackTuple } from "./netlink";

/** Longest Linux interface name (IFNAMSIZ - 1). */
const MAX_IFNAME = 15;

const PROTOCOL_NUMBER = { tcp: 6, udp: 17 } as const;

function checkLif(field: string, lif: string): void {
  if (lif === "") return;
  if (Buffer.byteLength(lif, "utf8") > MAX_IFNAME) {
    throw new ValidationError(field, `"${lif}" is longer than ${MAX_IFNAME} bytes, so it names no Linux interface`);
  }
  if (lif === "." || lif === ".." || /[\s/:*"\\\u0000]/.test(lif)) {
    throw new ValidationError(
      field,
      `"${lif}" is not a Linux interface name (no "/", ":", "*", quotes, NUL or white space)`,
    );
  }
}

/**
 * Checks what the kernel switch needs beyond the API's validation: interface
 * names that Linux accepts, and a next hop of the session's IP version.
 * Throws `ValidationError` naming the field.
 */
export function checkKernelSpec(spec: SessionSpec): void {
  checkLif("inLif", spec.inLif);
  checkLif("outLif", spec.outLif);
  if (spec.action === "mirror" || spec.action === "snoop") {
    const { version } = parseAddress(spec.nextHop);
    if (version !== spec.ipVersion) {
      throw new ValidationError(
        "action.actionNextHop",
        `an ${spec.ipVersion === "ipv4" ? "_IPV4" : "_IPV6"} session needs a next hop of the same version, got ${spec.nextHop}`,
      );
    }
  }
}

/**
 * The conntrack tuple of a session's first direction (source to destination).
 * The addresses are copies (small Buffers share Node's pool): a decoded
 * request's are views of its network buffer, which the table would keep alive.
 */
export function sessionTuple(spec: SessionSpec): ConntrackTuple {
  return {
    family: spec.ipVersion === "ipv4" ? 4 : 6,
    protocol: PROTOCOL_NUMBER[spec.protocol],
    src: Buffer.from(spec.sourceIp),
    dst: Buffer.from(spec.destinationIp),
    srcPort: spec.sourcePort,
    dstPort: spec.destinationPort,
  };
}

/** Canonical text of a tuple (family, protocol, addresses, ports): the key the switch finds kernel entries by. */
export function tupleKey(t: ConntrackTuple): string {
  return `${t.family} ${t.protocol} ${Buffer.from(t.src).toString("hex")} ${t.srcPort} ${Buffer.from(t.dst).toString("hex")} ${t.dstPort}`;
}

/** The key of the reverse direction of a tuple: a session's reply packets, and a reversed session's first ones. */
export function reverseKey(t: ConntrackTuple): string {
  return tupleKey({ ...t, src: t.dst, dst: t.src, srcPort: t.dstPort, dstPort: t.srcPort });
}

/** The 7-tuple of a spec as text: what makes a live session a duplicate. */
export function sevenTupleKey(spec: SessionSpec): string {
  return `${spec.inLif}\u0000${spec.outLif}\u0000${tupleKey(sessionTuple(spec))}`;
}

/** What the kernel does with a session's packets: one verdict chain per distinct spec. */
export interface VerdictSpec {
  readonly family: "ip" | "ip6";
  readonly verdict: "accept" | "drop";
  /** Address packets are duplicated to (`dup to`), for MIRROR and SNOOP. */
  readonly dup?: string;
  /** Interface the first direction arrives on (and the reply leaves by); "" any. */
  readonly inLif: string;
  /** Interface the first direction leaves by (and the reply arrives on); "" any. */
  readonly outLif: string;
}

/** The verdict of a spec. */
export function verdictOf(spec: SessionSpec): VerdictSpec {
  const family = spec.ipVersion === "ipv4" ? "ip" : "ip6";
  const base = { family, inLif: spec.inLif, outLif: spec.outLif } as const;
  if (spec.action === "drop") return { ...base, verdict: "drop" };
  if (spec.action === "forward") return { ...base, verdict: "accept" };
  return { ...base, verdict: "accept", dup: formatAddress(parseAddress(spec.nextHop).bytes) };
}
