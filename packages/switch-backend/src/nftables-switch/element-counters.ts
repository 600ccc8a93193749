import type { NftRunner } from "./nft-runner";
import type { ElementCounter } from "./kernel-snapshot";
import type { DirectionKey } from "./session-keys";

// Key order: saddr, daddr, sport, dport, then an interface name, which is quoted.
function quoteValue(v: string | number, index: number): string {
  return index >= 4 ? `"${String(v)}"` : String(v);
}

/**
 * Reads the counters of a few elements with one `nft get element` per map
 * (nft 1.0.6 answers `get` in text even with -j, so the counters are parsed
 * from `counter packets N bytes M`). Resolves undefined for a key whose
 * element is gone.
 */
export async function readElementCounters(
  runner: NftRunner,
  table: string,
  keys: readonly DirectionKey[],
): Promise<(ElementCounter | undefined)[]> {
  return Promise.all(
    keys.map(async (key) => {
      const elem = key.values.map(quoteValue).join(" . ");
      let text: string;
      try {
        text = await runner.text(["get", "element", key.family, table, key.map, `{ ${elem} }`]);
      } catch {
        return undefined;
      }
      const m = /counter packets (\d+) bytes (\d+)/.exec(text);
      return m ? { packets: BigInt(m[1] as string), bytes: BigInt(m[2] as string) } : undefined;
    }),
  );
}
