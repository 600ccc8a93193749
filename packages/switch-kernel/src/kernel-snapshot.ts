import { formatAddress, parseAddress } from "@sessionoffload/offload-api";
import type { NftJsonOutput } from "./nft-runner";
import { elementId, flagId } from "./session-keys";
import type { NftFamily } from "./ruleset";

/** A per-element counter as the kernel reports it. */
export interface ElementCounter {
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** What one listing of the switch's tables says: element counters and the FIN/RST marks. */
export interface KernelSnapshot {
  /** Counter of each verdict-map element present, by `elementId`. */
  readonly counters: Map<string, ElementCounter>;
  /** 4-tuples (by `flagId`) that sent a FIN. */
  readonly fin: Set<string>;
  /** 4-tuples (by `flagId`) that sent an RST. */
  readonly rst: Set<string>;
}

/** An empty snapshot to merge listings into. */
export function emptySnapshot(): KernelSnapshot {
  return { counters: new Map(), fin: new Set(), rst: new Set() };
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function keyValues(family: NftFamily, val: Json): (string | number)[] {
  const parts = isObject(val) && Array.isArray(val["concat"]) ? (val["concat"] as Json[]) : [val];
  return parts.map((part, i) => {
    if (i < 2 && typeof part === "string") {
      // nft prints IPv6 with inet_ntop: normalise to the text formatAddress gives.
      return family === "ip6" ? formatAddress(parseAddress(part).bytes) : part;
    }
    if (typeof part === "number" || typeof part === "string") return part;
    throw new Error(`unexpected nft element key part ${JSON.stringify(part)}`);
  });
}

function toBigInt(v: Json): bigint {
  return typeof v === "number" ? BigInt(v) : 0n;
}

/**
 * Merges one `nft -j list table FAMILY NAME` output into a snapshot: counters
 * of the verdict maps' elements and the members of the `fin` and `rst` sets.
 */
export function mergeListing(snapshot: KernelSnapshot, family: NftFamily, listing: NftJsonOutput): void {
  for (const item of listing.nftables) {
    const map = item["map"];
    if (isObject(map) && typeof map["name"] === "string" && Array.isArray(map["elem"])) {
      for (const pair of map["elem"] as Json[]) {
        if (!Array.isArray(pair) || !isObject(pair[0])) continue;
        const elem = pair[0]["elem"];
        if (!isObject(elem)) continue;
        const counter = isObject(elem["counter"]) ? elem["counter"] : {};
        snapshot.counters.set(elementId(family, map["name"], keyValues(family, elem["val"])), {
          packets: toBigInt(counter["packets"]),
          bytes: toBigInt(counter["bytes"]),
        });
      }
      continue;
    }
    const set = item["set"];
    if (isObject(set) && (set["name"] === "fin" || set["name"] === "rst") && Array.isArray(set["elem"])) {
      const target = set["name"] === "fin" ? snapshot.fin : snapshot.rst;
      for (const e of set["elem"] as Json[]) {
        const val = isObject(e) && isObject(e["elem"]) ? e["elem"]["val"] : e;
        target.add(flagId(family, keyValues(family, val)));
      }
    }
  }
}
