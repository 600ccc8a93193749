import { createHash } from "node:crypto";
import type { NftCommand } from "./nft-runner";

/** The two nft families the switch programs: one table of each, both with the configured name. */
export type NftFamily = "ip" | "ip6";

/** Both families, IPv4 first. */
export const NFT_FAMILIES: readonly NftFamily[] = ["ip", "ip6"];

/** The transport protocols of offloaded sessions. */
export type NftProto = "tcp" | "udp";

/**
 * Which interface names a verdict-map key holds: `io` iifname (one map per
 * oifname), `i` iifname, `o` oifname, `n` none. Looked up in this order, so
 * the most specific entry wins.
 */
export type LifPattern = "io" | "i" | "o" | "n";

/** The patterns with one map per protocol and shard, made with the table, in lookup order (`io` maps come first, made on demand). */
const STATIC_PATTERNS: readonly LifPattern[] = ["i", "o", "n"];

/** What the kernel does with a direction's packets once its element matched. */
export interface VerdictSpec {
  readonly verdict: "accept" | "drop";
  /** Address to duplicate packets to (`dup to`), for MIRROR and SNOOP. */
  readonly dup?: string;
}

/** Seed of the `jhash` that spreads flows over the shards (any fixed value; `createFlowHasher` must use the same). */
export const SHARD_SEED = 0x5e55_10ad;

/**
 * Name of the verdict map of a protocol, interface pattern and shard. Pattern
 * `io` has one map per output interface (`oifname`) and shard, keyed by the
 * 4-tuple and `iifname`: a set key holds at most five fields in nft 1.0.6.
 */
export function mapName(proto: NftProto, pattern: LifPattern, shard: number, oifname = ""): string {
  if (pattern !== "io") return `${proto}_${pattern}_s${shard}`;
  return `${proto}_io_${createHash("sha256").update(oifname).digest("hex").slice(0, 16)}_s${shard}`;
}

/** Name of the chain that looks a protocol's packets of one shard up in that shard's maps. */
export function shardChainName(proto: NftProto, shard: number): string {
  return `${proto}_s${shard}`;
}

/**
 * Commands that create the `io` verdict map of an output interface in one
 * shard and put its lookup at the head of the shard's chain (before the i, o
 * and n maps).
 */
export function ioMapCommands(
  family: NftFamily,
  table: string,
  proto: NftProto,
  oifname: string,
  shard: number,
): NftCommand[] {
  const name = mapName(proto, "io", shard, oifname);
  return [
    {
      add: {
        map: {
          family,
          table,
          name,
          type: keyType(family, "io"),
          map: "verdict",
          stmt: [{ counter: null }],
        },
      },
    },
    {
      insert: {
        rule: {
          family,
          table,
          chain: shardChainName(proto, shard),
          expr: [
            { match: { op: "==", left: meta("oifname"), right: oifname } },
            { vmap: { key: { concat: packetKey(family, "io") }, data: `@${name}` } },
          ],
        },
      },
    },
  ];
}

/** Name of the verdict chain for a spec: shared by every element with the same spec. */
export function verdictChainName(spec: VerdictSpec): string {
  if (spec.dup === undefined) return `v_${spec.verdict}`;
  const hash = createHash("sha256")
    .update(JSON.stringify([spec.verdict, spec.dup]))
    .digest("hex")
    .slice(0, 16);
  return `v_${spec.verdict}_${hash}`;
}

const ADDR_TYPE: Record<NftFamily, string> = { ip: "ipv4_addr", ip6: "ipv6_addr" };

function payload(protocol: string, field: string): NftCommand {
  return { payload: { protocol, field } };
}

function meta(key: string): NftCommand {
  return { meta: { key } };
}

/** The packet-side concatenation that a pattern's map is keyed by. */
function packetKey(family: NftFamily, pattern: LifPattern): NftCommand[] {
  const key = [payload(family, "saddr"), payload(family, "daddr"), payload("th", "sport"), payload("th", "dport")];
  if (pattern === "io" || pattern === "i") key.push(meta("iifname"));
  if (pattern === "o") key.push(meta("oifname"));
  return key;
}

/** The element-type list of a pattern's map. */
function keyType(family: NftFamily, pattern: LifPattern): string[] {
  const type = [ADDR_TYPE[family], ADDR_TYPE[family], "inet_service", "inet_service"];
  if (pattern !== "n") type.push("ifname");
  return type;
}

/** Sizes of the kernel objects, derived from the configured capacity. */
export interface RulesetSizes {
  /** Shards the verdict maps are split into (by a hash of the 4-tuple), 1..256. */
  readonly shards: number;
  /** Most elements of the FIN and RST sets. */
  readonly flagSetSize: number;
  /** Seconds a FIN/RST mark stays in its set if nobody collects it. */
  readonly flagTimeoutSeconds: number;
}

/**
 * Commands that create one family's table: the verdict maps of every shard
 * (with a counter per element; no size: the switch counts its capacity
 * itself, and a sized map would make the kernel preallocate its buckets), the
 * FIN and RST sets the packet path fills, a chain per protocol and shard that
 * looks packets up in that shard's maps, and the forward base chain (policy
 * accept) that sends each packet to its shard's chain by `jhash` of its
 * 4-tuple. Everything that has no element is left alone.
 */
export function tableCommands(family: NftFamily, table: string, sizes: RulesetSizes): NftCommand[] {
  const commands: NftCommand[] = [{ add: { table: { family, name: table } } }];
  for (const proto of ["tcp", "udp"] as const) {
    for (let shard = 0; shard < sizes.shards; shard++) {
      for (const pattern of STATIC_PATTERNS) {
        commands.push({
          add: {
            map: {
              family,
              table,
              name: mapName(proto, pattern, shard),
              type: keyType(family, pattern),
              map: "verdict",
              stmt: [{ counter: null }],
            },
          },
        });
      }
    }
  }
  for (const name of ["fin", "rst"]) {
    commands.push({
      add: {
        set: {
          family,
          table,
          name,
          type: keyType(family, "n"),
          flags: ["timeout"],
          timeout: sizes.flagTimeoutSeconds,
          size: sizes.flagSetSize,
        },
      },
    });
  }
  for (const proto of ["tcp", "udp"] as const) {
    for (let shard = 0; shard < sizes.shards; shard++) {
      const chain = shardChainName(proto, shard);
      commands.push({ add: { chain: { family, table, name: chain } } });
      for (const pattern of STATIC_PATTERNS) {
        commands.push({
          add: {
            rule: {
              family,
              table,
              chain,
              expr: [
                { vmap: { key: { concat: packetKey(family, pattern) }, data: `@${mapName(proto, pattern, shard)}` } },
              ],
            },
          },
        });
      }
    }
  }
  commands.push({
    add: { chain: { family, table, name: "forward", type: "filter", hook: "forward", prio: 0, policy: "accept" } },
  });
  for (const proto of ["tcp", "udp"] as const) {
    const l4 = { match: { op: "==", left: meta("l4proto"), right: proto } };
    const dispatch =
      sizes.shards === 1
        ? { jump: { target: shardChainName(proto, 0) } }
        : {
            vmap: {
              key: {
                jhash: {
                  mod: sizes.shards,
                  seed: SHARD_SEED,
                  expr: { concat: packetKey(family, "n") },
                },
              },
              data: {
                set: Array.from({ length: sizes.shards }, (_, shard) => [
                  shard,
                  { jump: { target: shardChainName(proto, shard) } },
                ]),
              },
            },
          };
    commands.push({ add: { rule: { family, table, chain: "forward", expr: [l4, dispatch] } } });
  }
  return commands;
}

function flagRule(family: NftFamily, table: string, chain: string, flag: "fin" | "rst"): NftCommand {
  const key = [payload(family, "saddr"), payload(family, "daddr"), payload("tcp", "sport"), payload("tcp", "dport")];
  return {
    add: {
      rule: {
        family,
        table,
        chain,
        expr: [
          { match: { op: "==", left: meta("l4proto"), right: "tcp" } },
          { match: { op: "in", left: payload("tcp", "flags"), right: flag } },
          { set: { op: "add", elem: { concat: key }, set: `@${flag}` } },
        ],
      },
    },
  };
}

/**
 * Commands that create the verdict chain of a spec: record TCP FIN and RST in the flag sets, duplicate to the next
 * hop, then accept or drop.
 */
export function verdictChainCommands(family: NftFamily, table: string, spec: VerdictSpec): NftCommand[] {
  const chain = verdictChainName(spec);
  const commands: NftCommand[] = [{ add: { chain: { family, table, name: chain } } }];
  commands.push(flagRule(family, table, chain, "fin"), flagRule(family, table, chain, "rst"));
  const last: NftCommand[] = [];
  if (spec.dup !== undefined) last.push({ dup: { addr: spec.dup } });
  last.push(spec.verdict === "accept" ? { accept: null } : { drop: null });
  commands.push({ add: { rule: { family, table, chain, expr: last } } });
  return commands;
}
