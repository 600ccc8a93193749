import { emptySnapshot, mergeListing, type KernelSnapshot } from "./kernel-snapshot";
import type { NftJsonOutput, NftRunner } from "./nft-runner";
import { NFT_FAMILIES, type NftFamily } from "./ruleset";

/** A verdict map of the switch's table in one family. */
export interface MapRef {
  readonly family: NftFamily;
  readonly name: string;
}

/** Options of `createSnapshotReader`. */
export interface SnapshotReaderOptions {
  /** Runs the listings. */
  readonly runner: NftRunner;
  /** Name of the switch's `ip` and `ip6` tables. */
  readonly table: string;
  /** Most nft listings running at once; default 2. */
  readonly concurrency?: number;
}

/**
 * Reads element counters and FIN/RST marks with one `nft -j list map` per
 * verdict map asked for (and one `nft -j list set` per flag set), never with
 * a listing per session. Listing one map costs nft about the same per element
 * as listing the whole table, but it skips the maps nobody asked for.
 */
export interface SnapshotReader {
  /**
   * Resolves a snapshot of at least these maps (and the FIN/RST sets of both
   * families when `flags`), read by a listing that started after this call.
   * Callers in the same turn of the event loop, or while a listing is
   * running, share the next listing.
   */
  read(maps: Iterable<MapRef>, flags: boolean): Promise<KernelSnapshot>;
}

interface Waiter {
  resolve(snapshot: KernelSnapshot): void;
  reject(err: unknown): void;
}

interface Listing {
  readonly family: NftFamily;
  readonly args: readonly string[];
}

async function runLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Makes a reader that coalesces concurrent reads into one set of listings. */
export function createSnapshotReader(options: SnapshotReaderOptions): SnapshotReader {
  const { runner, table } = options;
  const concurrency = options.concurrency ?? 2;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency: must be a positive integer, got ${concurrency}`);
  }
  let maps = new Map<string, MapRef>();
  let flags = false;
  let waiters: Waiter[] = [];
  let running: Promise<void> | undefined;

  async function listAll(refs: readonly MapRef[], withFlags: boolean): Promise<KernelSnapshot> {
    const listings: Listing[] = refs.map((m) => ({ family: m.family, args: ["list", "map", m.family, table, m.name] }));
    if (withFlags) {
      for (const family of NFT_FAMILIES) {
        for (const set of ["fin", "rst"]) listings.push({ family, args: ["list", "set", family, table, set] });
      }
    }
    const outputs: { family: NftFamily; output: NftJsonOutput }[] = [];
    await runLimited(listings, concurrency, async (l) => {
      outputs.push({ family: l.family, output: await runner.query(l.args) });
    });
    const snapshot = emptySnapshot();
    for (const { family, output } of outputs) mergeListing(snapshot, family, output);
    return snapshot;
  }

  async function loop(): Promise<void> {
    // Let the current turn's callers join the first listing.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (waiters.length > 0) {
      const batch = waiters;
      const refs = [...maps.values()];
      const withFlags = flags;
      waiters = [];
      maps = new Map();
      flags = false;
      try {
        const snapshot = await listAll(refs, withFlags);
        for (const w of batch) w.resolve(snapshot);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = undefined;
  }

  return {
    read(wanted, withFlags) {
      return new Promise<KernelSnapshot>((resolve, reject) => {
        for (const m of wanted) maps.set(`${m.family} ${m.name}`, m);
        flags ||= withFlags;
        waiters.push({ resolve, reject });
        running ??= loop();
      });
    },
  };
}
