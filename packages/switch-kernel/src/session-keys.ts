import { ValidationError, formatAddress, parseAddress, type SessionSpec } from "@sessionoffload/offload-api";
import type { FlowHasher } from "./flow-hash";
import { mapName, type LifPattern, type NftFamily, type NftProto, type VerdictSpec } from "./ruleset";

/** One direction of a session as kernel state: the verdict-map element and its flag-set key. */
export interface DirectionKey {
  readonly family: NftFamily;
  readonly map: string;
  /** The concatenated key values, in map order (addresses as text, ports as numbers, interface names). */
  readonly values: readonly (string | number)[];
  /** Canonical text of (family, map, key); the same text `elementId` gives for a listed element. */
  readonly id: string;
  /** The 4-tuple (saddr, daddr, sport, dport) the FIN/RST sets use. */
  readonly flagValues: readonly (string | number)[];
  /** Canonical text of (family, 4-tuple). */
  readonly flagId: string;
  readonly verdict: VerdictSpec;
  readonly proto: NftProto;
  /** For pattern `io`: the output interface whose map holds the element. */
  readonly oifname: string | undefined;
  /** The shard (of the kernel's `jhash` of the 4-tuple) whose maps hold the element. */
  readonly shard: number;
}

/** Both directions of a session: `in` source to destination, `out` the reverse. */
export interface SessionKeys {
  readonly in: DirectionKey;
  readonly out: DirectionKey;
}

/** Longest Linux interface name (IFNAMSIZ - 1). */
const MAX_IFNAME = 15;

function checkLif(field: string, lif: string): void {
  if (lif === "") return;
  if (Buffer.byteLength(lif, "utf8") > MAX_IFNAME) {
    throw new ValidationError(field, `"${lif}" is longer than ${MAX_IFNAME} bytes, so it names no Linux interface`);
  }
  if (lif === "." || lif === ".." || /[\s/:*]/.test(lif)) {
    throw new ValidationError(field, `"${lif}" is not a Linux interface name (no "/", ":", "*" or white space)`);
  }
}

/**
 * Checks what the nftables switch needs beyond the API's validation: interface
 * names that Linux accepts, and a next hop of the session's IP version.
 * Throws `ValidationError` naming the field.
 */
export function checkKernelSpec(spec: SessionSpec): void {
  checkLif("inLif", spec.inLif);
  checkLif("outLif", spec.outLif);
  if (spec.nextHop !== "" && (spec.action === "mirror" || spec.action === "snoop")) {
    const { version } = parseAddress(spec.nextHop);
    if (version !== spec.ipVersion) {
      throw new ValidationError(
        "action.actionNextHop",
        `an ${spec.ipVersion === "ipv4" ? "_IPV4" : "_IPV6"} session needs a next hop of the same version, got ${spec.nextHop}`,
      );
    }
  }
}

/** Canonical id of a verdict-map element. */
export function elementId(family: NftFamily, map: string, values: readonly (string | number)[]): string {
  return `${family} ${map} ${values.join(" ")}`;
}

/** Canonical id of a FIN/RST set element. */
export function flagId(family: NftFamily, values: readonly (string | number)[]): string {
  return `${family} ${values.join(" ")}`;
}

function pattern(iif: string, oif: string): LifPattern {
  if (iif !== "" && oif !== "") return "io";
  if (iif !== "") return "i";
  if (oif !== "") return "o";
  return "n";
}

function direction(
  family: NftFamily,
  proto: NftProto,
  saddr: string,
  daddr: string,
  sport: number,
  dport: number,
  iif: string,
  oif: string,
  base: VerdictSpec,
  shard: number,
): DirectionKey {
  const p = pattern(iif, oif);
  const map = mapName(proto, p, shard, oif);
  const flagValues = [saddr, daddr, sport, dport];
  const values: (string | number)[] = [...flagValues];
  if (p === "io" || p === "i") values.push(iif);
  if (p === "o") values.push(oif);
  return {
    family,
    map,
    values,
    id: elementId(family, map, values),
    flagValues,
    flagId: flagId(family, flagValues),
    verdict: base,
    proto,
    oifname: p === "io" ? oif : undefined,
    shard,
  };
}

/**
 * The kernel keys of a session in both directions (the reverse direction
 * enters by outLif and leaves by inLif); `shardOf` says which shard's maps
 * hold each direction.
 */
export function sessionKeys(spec: SessionSpec, shardOf: FlowHasher): SessionKeys {
  const family: NftFamily = spec.ipVersion === "ipv4" ? "ip" : "ip6";
  const src = formatAddress(spec.sourceIp);
  const dst = formatAddress(spec.destinationIp);
  const base: VerdictSpec =
    spec.action === "drop"
      ? { verdict: "drop" }
      : spec.action === "forward"
        ? { verdict: "accept" }
        : { verdict: "accept", dup: formatAddress(parseAddress(spec.nextHop).bytes) };
  const proto = spec.protocol;
  const sp = spec.sourcePort;
  const dp = spec.destinationPort;
  const inShard = shardOf(spec.sourceIp, spec.destinationIp, sp, dp);
  const outShard = shardOf(spec.destinationIp, spec.sourceIp, dp, sp);
  return {
    in: direction(family, proto, src, dst, sp, dp, spec.inLif, spec.outLif, base, inShard),
    out: direction(family, proto, dst, src, dp, sp, spec.outLif, spec.inLif, base, outShard),
  };
}
