import { ValidationError, formatAddress, parseAddress, type SessionSpec } from "@sessionoffload/offload-api";
import type { ConntrackTuple } from "./netlink";

/** Longest Linux interface name (IFNAMSIZ - 1). */
const MAX_IFNAME = 15;

const PROTOCOL_NUMBER = { tcp: 6, udp: 17 } as const;

/** Interface names found good already (adds mostly repeat a few): checked once each. */
const goodLifs = new Set<string>();
const MAX_GOOD_LIFS = 1024;

function checkLif(field: string, lif: string): void {
  if (lif === "" || goodLifs.has(lif)) return;
  if (Buffer.byteLength(lif, "utf8") > MAX_IFNAME) {
    throw new ValidationError(field, `"${lif}" is longer than ${MAX_IFNAME} bytes, so it names no Linux interface`);
  }
  if (lif === "." || lif === ".." || /[\s/:*"\\\u0000]/.test(lif)) {
    throw new ValidationError(
      field,
      `"${lif}" is not a Linux interface name (no "/", ":", "*", quotes, NUL or white space)`,
    );
  }
  if (goodLifs.size < MAX_GOOD_LIFS) goodLifs.add(lif);
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
 * The addresses are copies (small typed arrays live on the JS heap): a decoded
 * request's are views of its network buffer, which the table would keep alive.
 */
export function sessionTuple(spec: SessionSpec): ConntrackTuple {
  return {
    family: spec.ipVersion === "ipv4" ? 4 : 6,
    protocol: PROTOCOL_NUMBER[spec.protocol],
    src: new Uint8Array(spec.sourceIp),
    dst: new Uint8Array(spec.destinationIp),
    srcPort: spec.sourcePort,
    dstPort: spec.destinationPort,
  };
}

/** UTF-16 units of a key under construction (IPv6: 1 + 8 + 8 + 2). */
const units: number[] = new Array<number>(19).fill(0);

function putAddress(at: number, a: Uint8Array): number {
  for (let i = 0; i + 1 < a.length; i += 2) units[at++] = ((a[i] as number) << 8) | (a[i + 1] as number);
  return at;
}

function keyOf(family: number, protocol: number, src: Uint8Array, dst: Uint8Array, sp: number, dp: number): string {
  if (family === 4 && src.length === 4 && dst.length === 4) {
    return String.fromCharCode(
      (4 << 8) | protocol,
      ((src[0] as number) << 8) | (src[1] as number),
      ((src[2] as number) << 8) | (src[3] as number),
      ((dst[0] as number) << 8) | (dst[1] as number),
      ((dst[2] as number) << 8) | (dst[3] as number),
      sp,
      dp,
    );
  }
  units[0] = (family << 8) | protocol;
  let at = putAddress(1, src);
  at = putAddress(at, dst);
  units[at++] = sp;
  units[at++] = dp;
  return String.fromCharCode(...units.slice(0, at));
}

/**
 * Canonical key of a tuple (family, protocol, addresses, ports; one UTF-16 unit per 16 bits, not for display):
 * the key the switch finds kernel entries by.
 */
export function tupleKey(t: ConntrackTuple): string {
  return keyOf(t.family, t.protocol, t.src, t.dst, t.srcPort, t.dstPort);
}

/** The key of the reverse direction of a tuple: a session's reply packets, and a reversed session's first ones. */
export function reverseKey(t: ConntrackTuple): string {
  return keyOf(t.family, t.protocol, t.dst, t.src, t.dstPort, t.srcPort);
}

function addressOf(key: string, at: number, bytes: number): Uint8Array {
  const a = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 2) {
    const u = key.charCodeAt(at + i / 2);
    a[i] = u >>> 8;
    a[i + 1] = u & 0xff;
  }
  return a;
}

/** The tuple a `tupleKey` was made of (fresh address copies). */
export function tupleOfKey(key: string): ConntrackTuple {
  const head = key.charCodeAt(0);
  const family = head >>> 8 === 6 ? 6 : 4;
  const bytes = family === 4 ? 4 : 16;
  const units = bytes / 2;
  return {
    family,
    protocol: head & 0xff,
    src: addressOf(key, 1, bytes),
    dst: addressOf(key, 1 + units, bytes),
    srcPort: key.charCodeAt(1 + 2 * units),
    dstPort: key.charCodeAt(2 + 2 * units),
  };
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
